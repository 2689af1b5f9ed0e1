"""The treatment and indication catalogue, with stable slugs.

Summaries describe mechanism only. Effect sizes, session counts, downtime and risk
come from citations and reports, shown with their sources, never from prose here.
"""

from __future__ import annotations

from typing import TypedDict


class TreatmentEntry(TypedDict):
    """One catalogue treatment."""

    slug: str
    name: str
    category: str
    summary: str
    default_query: str
    synonyms: str


class IndicationEntry(TypedDict):
    """One catalogue indication."""

    slug: str
    name: str
    mesh_heading: str
    in_catalogue: bool


TREATMENTS: tuple[TreatmentEntry, ...] = (
    {
        "slug": "microneedling",
        "name": "Microneedling (collagen induction therapy)",
        "category": "mechanical",
        "summary": (
            "Rows of fine needles, on a roller or a motorised pen, make many small "
            "punctures in the epidermis and dermis to a depth set by the needle length. "
            "The wound-healing response that follows is intended to remodel collagen."
        ),
        "default_query": (
            '(microneedling[tiab] OR "micro-needling"[tiab] OR "collagen induction"[tiab] '
            'OR dermaroller[tiab] OR "skin needling"[tiab]) NOT radiofrequency[tiab]'
        ),
        "synonyms": "collagen induction therapy; CIT; skin needling; dermarolling",
    },
    {
        "slug": "fractional-co2-laser",
        "name": "Fractional CO2 laser",
        "category": "ablative laser",
        "summary": (
            "A 10,600 nm carbon dioxide laser, absorbed by tissue water, vaporises "
            "microscopic columns of skin (microscopic treatment zones) surrounded by a "
            "rim of thermal coagulation, leaving the skin between columns intact."
        ),
        "default_query": (
            '("fractional CO2"[tiab] OR "fractional carbon dioxide"[tiab] OR '
            '"ablative fractional"[tiab]) AND laser*[tiab]'
        ),
        "synonyms": "ablative fractional CO2; AFL; CO2 fractional resurfacing",
    },
    {
        "slug": "fractional-erbium-laser",
        "name": "Fractional erbium (Er:YAG) laser",
        "category": "ablative laser",
        "summary": (
            "A 2,940 nm erbium:YAG laser, absorbed more strongly by water than CO2, "
            "ablates microscopic columns with a thinner rim of thermal coagulation."
        ),
        "default_query": (
            '("erbium"[tiab] OR "Er:YAG"[tiab] OR "2940"[tiab]) AND fractional[tiab]'
        ),
        "synonyms": "Er:YAG; fractional erbium; 2940 nm",
    },
    {
        "slug": "non-ablative-fractional-laser",
        "name": "Non-ablative fractional laser",
        "category": "non-ablative laser",
        "summary": (
            "Mid-infrared lasers (for example 1,540 or 1,550 nm) heat microscopic "
            "columns of dermis without removing the epidermis (fractional photothermolysis)."
        ),
        "default_query": (
            '("non-ablative fractional"[tiab] OR "nonablative fractional"[tiab] OR '
            '"fractional photothermolysis"[tiab] OR 1550[tiab] OR 1540[tiab]) AND laser*[tiab]'
        ),
        "synonyms": "NAFL; fractional photothermolysis; 1540 nm; 1550 nm",
    },
    {
        "slug": "microneedling-radiofrequency",
        "name": "Microneedling radiofrequency",
        "category": "radiofrequency",
        "summary": (
            "Insulated or non-insulated needles penetrate the skin and deliver "
            "radiofrequency current at their tips, heating the dermis around each needle."
        ),
        "default_query": (
            '("fractional radiofrequency"[tiab] OR "microneedle radiofrequency"[tiab] OR '
            '"microneedling radiofrequency"[tiab] OR "radiofrequency microneedling"[tiab])'
        ),
        "synonyms": "RF microneedling; fractional microneedle radiofrequency; FMR",
    },
    {
        "slug": "microneedling-prp",
        "name": "Microneedling with platelet-rich plasma",
        "category": "combination",
        "summary": (
            "Microneedling combined with autologous platelet-rich plasma, applied "
            "topically over the punctures or injected, as a source of growth factors."
        ),
        "default_query": (
            '(microneedling[tiab] OR "micro-needling"[tiab] OR dermaroller[tiab]) AND '
            '("platelet-rich plasma"[tiab] OR PRP[tiab])'
        ),
        "synonyms": "microneedling + PRP; vampire facial",
    },
)

INDICATIONS: tuple[IndicationEntry, ...] = (
    {
        "slug": "acne-scars",
        "name": "Acne scars (atrophic)",
        "mesh_heading": "Acne Vulgaris; Cicatrix",
        "in_catalogue": True,
    },
    {
        "slug": "wrinkles",
        "name": "Wrinkles and photoageing",
        "mesh_heading": "Skin Aging",
        "in_catalogue": True,
    },
    {
        "slug": "striae",
        "name": "Striae (stretch marks)",
        "mesh_heading": "Striae Distensae",
        "in_catalogue": True,
    },
    {
        "slug": "burn-scars",
        "name": "Burn scars",
        "mesh_heading": "Burns; Cicatrix",
        "in_catalogue": True,
    },
    {
        "slug": "androgenetic-alopecia",
        "name": "Androgenetic alopecia",
        "mesh_heading": "Alopecia",
        "in_catalogue": True,
    },
    {"slug": "melasma", "name": "Melasma", "mesh_heading": "Melanosis", "in_catalogue": True},
    # Indications that appear in the bundled citations but lie outside the core catalogue.
    {
        "slug": "hypertrophic-scars",
        "name": "Hypertrophic scars",
        "mesh_heading": "Cicatrix, Hypertrophic",
        "in_catalogue": False,
    },
    {
        "slug": "surgical-traumatic-scars",
        "name": "Surgical and traumatic scars",
        "mesh_heading": "Cicatrix",
        "in_catalogue": False,
    },
    {
        "slug": "alopecia-areata",
        "name": "Alopecia areata",
        "mesh_heading": "Alopecia Areata",
        "in_catalogue": False,
    },
    {
        "slug": "acne-vulgaris",
        "name": "Acne vulgaris (active acne)",
        "mesh_heading": "Acne Vulgaris",
        "in_catalogue": False,
    },
)
