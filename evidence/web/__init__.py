"""The web side: views (one blueprint per module in views/), the read API and its OpenAPI
document, accounts and roles, forms, and the guards every request passes (CSRF, security
headers, rate limits, hostile-input checks, friendly errors).
"""
