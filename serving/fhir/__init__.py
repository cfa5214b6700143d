"""FHIR R4B: a Bundle of the course's resources in, a RiskAssessment out (fhir.resources.R4B)."""
