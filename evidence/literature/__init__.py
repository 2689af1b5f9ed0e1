"""The literature: PubMed records stored and graded by study design, searched, screened,
de-duplicated, watched for retractions, kept living by saved searches, and extracted into
study results for synthesis.
"""
