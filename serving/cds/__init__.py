"""CDS Hooks: discovery, the `patient-view` relapse-risk service, feedback, EHR JWT checks."""
