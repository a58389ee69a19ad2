"""What the emulated HubSpot account holds: object types, their properties, association types.

Property types follow HubSpot's: ``string``, ``number``, ``date`` (``YYYY-MM-DD``, midnight
UTC), ``datetime`` (ISO 8601 with milliseconds, ``Z``) and ``enumeration`` (fixed options).
Custom ``psflow_*`` properties are what a firm's admin would create for psflow; ``psflow_id``
is marked unique so it can be the ``idProperty`` of upserts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NAME = "hubspot"
PORTAL_ID = 145_000_001
APP_ID = 4_200_001
PRIVATE_APP_TOKEN = "pat-na1-psflow-demo-0000-private-app"
CLIENT_ID = "psflow-demo"
CLIENT_SECRET = "psflow-demo-secret"
REFRESH_TOKEN = "psflow-demo-refresh-token"
AUTHORIZATION_CODE = "psflow-demo-code"
ACCESS_TOKEN_TTL_S = 1800
CURRENCIES = ("GBP", "USD", "EUR")

DEAL_STAGES = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
)

# HubSpot's standard company ``industry`` options.
INDUSTRIES = (
    "ACCOUNTING", "AIRLINES_AVIATION", "ALTERNATIVE_DISPUTE_RESOLUTION", "ALTERNATIVE_MEDICINE", "ANIMATION",
    "APPAREL_FASHION", "ARCHITECTURE_PLANNING", "ARTS_AND_CRAFTS", "AUTOMOTIVE", "AVIATION_AEROSPACE", "BANKING",
    "BIOTECHNOLOGY", "BROADCAST_MEDIA", "BUILDING_MATERIALS", "BUSINESS_SUPPLIES_AND_EQUIPMENT", "CAPITAL_MARKETS",
    "CHEMICALS", "CIVIC_SOCIAL_ORGANIZATION", "CIVIL_ENGINEERING", "COMMERCIAL_REAL_ESTATE",
    "COMPUTER_NETWORK_SECURITY", "COMPUTER_GAMES", "COMPUTER_HARDWARE", "COMPUTER_NETWORKING", "COMPUTER_SOFTWARE",
    "CONSTRUCTION", "CONSUMER_ELECTRONICS", "CONSUMER_GOODS", "CONSUMER_SERVICES", "COSMETICS", "DAIRY",
    "DEFENSE_SPACE", "DESIGN", "EDUCATION_MANAGEMENT", "E_LEARNING", "ELECTRICAL_ELECTRONIC_MANUFACTURING",
    "ENTERTAINMENT", "ENVIRONMENTAL_SERVICES", "EVENTS_SERVICES", "EXECUTIVE_OFFICE", "FACILITIES_SERVICES",
    "FARMING", "FINANCIAL_SERVICES", "FINE_ART", "FISHERY", "FOOD_BEVERAGES", "FOOD_PRODUCTION", "FUND_RAISING",
    "FURNITURE", "GAMBLING_CASINOS", "GLASS_CERAMICS_CONCRETE", "GOVERNMENT_ADMINISTRATION", "GOVERNMENT_RELATIONS",
    "GRAPHIC_DESIGN", "HEALTH_WELLNESS_AND_FITNESS", "HIGHER_EDUCATION", "HOSPITAL_HEALTH_CARE", "HOSPITALITY",
    "HUMAN_RESOURCES", "IMPORT_AND_EXPORT", "INDIVIDUAL_FAMILY_SERVICES", "INDUSTRIAL_AUTOMATION",
    "INFORMATION_SERVICES", "INFORMATION_TECHNOLOGY_AND_SERVICES", "INSURANCE", "INTERNATIONAL_AFFAIRS",
    "INTERNATIONAL_TRADE_AND_DEVELOPMENT", "INTERNET", "INVESTMENT_BANKING", "INVESTMENT_MANAGEMENT", "JUDICIARY",
    "LAW_ENFORCEMENT", "LAW_PRACTICE", "LEGAL_SERVICES", "LEGISLATIVE_OFFICE", "LEISURE_TRAVEL_TOURISM",
    "LIBRARIES", "LOGISTICS_AND_SUPPLY_CHAIN", "LUXURY_GOODS_JEWELRY", "MACHINERY", "MANAGEMENT_CONSULTING",
    "MARITIME", "MARKET_RESEARCH", "MARKETING_AND_ADVERTISING", "MECHANICAL_OR_INDUSTRIAL_ENGINEERING",
    "MEDIA_PRODUCTION", "MEDICAL_DEVICES", "MEDICAL_PRACTICE", "MENTAL_HEALTH_CARE", "MILITARY", "MINING_METALS",
    "MOTION_PICTURES_AND_FILM", "MUSEUMS_AND_INSTITUTIONS", "MUSIC", "NANOTECHNOLOGY", "NEWSPAPERS",
    "NON_PROFIT_ORGANIZATION_MANAGEMENT", "OIL_ENERGY", "ONLINE_MEDIA", "OUTSOURCING_OFFSHORING",
    "PACKAGE_FREIGHT_DELIVERY", "PACKAGING_AND_CONTAINERS", "PAPER_FOREST_PRODUCTS", "PERFORMING_ARTS",
    "PHARMACEUTICALS", "PHILANTHROPY", "PHOTOGRAPHY", "PLASTICS", "POLITICAL_ORGANIZATION",
    "PRIMARY_SECONDARY_EDUCATION", "PRINTING", "PROFESSIONAL_TRAINING_COACHING", "PROGRAM_DEVELOPMENT",
    "PUBLIC_POLICY", "PUBLIC_RELATIONS_AND_COMMUNICATIONS", "PUBLIC_SAFETY", "PUBLISHING", "RAILROAD_MANUFACTURE",
    "RANCHING", "REAL_ESTATE", "RECREATIONAL_FACILITIES_AND_SERVICES", "RELIGIOUS_INSTITUTIONS",
    "RENEWABLES_ENVIRONMENT", "RESEARCH", "RESTAURANTS", "RETAIL", "SECURITY_AND_INVESTIGATIONS", "SEMICONDUCTORS",
    "SHIPBUILDING", "SPORTING_GOODS", "SPORTS", "STAFFING_AND_RECRUITING", "SUPERMARKETS", "TELECOMMUNICATIONS",
    "TEXTILES", "THINK_TANKS", "TOBACCO", "TRANSLATION_AND_LOCALIZATION", "TRANSPORTATION_TRUCKING_RAILROAD",
    "UTILITIES", "VENTURE_CAPITAL_PRIVATE_EQUITY", "VETERINARY", "WAREHOUSING", "WHOLESALE", "WINE_AND_SPIRITS",
    "WIRELESS", "WRITING_AND_EDITING",
)  # fmt: skip


@dataclass(frozen=True)
class Property:
    """One property definition."""

    type: str = "string"
    options: tuple[str, ...] = ()
    unique: bool = False
    read_only: bool = False
    pipeline_managed: bool = False
    """Options are the account's pipelines (``pipeline``) or their stages (``dealstage``), not fixed."""


@dataclass(frozen=True)
class ObjectType:
    """One CRM object type and its property definitions.

    Attributes:
        name: The path name (``deals``).
        singular: The name in messages and webhook subscription types (``deal``).
        scope: The OAuth scope stem (``crm.objects.deals``).
        properties: Every property the type knows.
        defaults: Properties returned when a read names none.
        searchable: Properties the free-text ``query`` of a search looks in.
        type_id: The object type id of v4 association responses (``0-3``).
        required: Properties a create must set.
    """

    name: str
    singular: str
    properties: dict[str, Property]
    defaults: tuple[str, ...]
    searchable: tuple[str, ...]
    type_id: str = ""
    required: tuple[str, ...] = ()
    scope: str = field(default="")

    @property
    def unique_property(self) -> str | None:
        """The property upserts and ``idProperty`` reads may key on."""
        return next((name for name, spec in self.properties.items() if spec.unique), None)


_TEXT = Property()
_NUMBER = Property("number")
_DATE = Property("date")
_COMMON = {
    "hs_object_id": Property("number", read_only=True),
    "createdate": Property("datetime", read_only=True),
    "hs_lastmodifieddate": Property("datetime", read_only=True),
    "hubspot_owner_id": _TEXT,
    "description": _TEXT,
}
META = ("createdate", "hs_lastmodifieddate", "hs_object_id")
"""Properties every read returns."""


def _object_type(
    name: str,
    singular: str,
    type_id: str,
    properties: dict[str, Property],
    defaults: tuple[str, ...],
    required: tuple[str, ...] = (),
) -> ObjectType:
    return ObjectType(
        name=name,
        singular=singular,
        properties={**_COMMON, **properties},
        defaults=(*defaults, *META),
        searchable=tuple(p for p in defaults if properties.get(p, _TEXT).type == "string"),
        type_id=type_id,
        required=required,
        scope=f"crm.objects.{name}",
    )


OBJECT_TYPES: dict[str, ObjectType] = {
    "deals": _object_type(
        "deals",
        "deal",
        "0-3",
        {
            "dealname": _TEXT,
            "amount": _NUMBER,
            "deal_currency_code": Property("enumeration", CURRENCIES),
            "closedate": Property("datetime"),
            "dealstage": Property("enumeration", pipeline_managed=True),
            "pipeline": Property("enumeration", pipeline_managed=True),
            "psflow_id": Property(unique=True),
            "psflow_start_date": _DATE,
            "psflow_end_date": _DATE,
            "psflow_billing_type": Property("enumeration", ("time_and_materials", "fixed_fee")),
            "psflow_rate_card": _TEXT,
            # A change-order deal's contract: the original deal's id (the back-pointer of research §3).
            "psflow_parent_deal_id": _TEXT,
            "psflow_new_end_date": _DATE,
            "psflow_effective_date": _DATE,
        },
        ("dealname", "amount", "closedate", "pipeline", "dealstage"),
        required=("dealname", "dealstage"),
    ),
    "companies": _object_type(
        "companies",
        "company",
        "0-2",
        {
            "name": _TEXT,
            "domain": _TEXT,
            "website": _TEXT,
            "industry": Property("enumeration", INDUSTRIES),
            "phone": _TEXT,
            "address": _TEXT,
            "address2": _TEXT,
            "city": _TEXT,
            "state": _TEXT,
            "zip": _TEXT,
            "country": _TEXT,
            "numberofemployees": _NUMBER,
            "psflow_id": Property(unique=True),
            "psflow_currency": Property("enumeration", CURRENCIES),
            "psflow_payment_terms": _TEXT,
        },
        ("name", "domain"),
    ),
    "line_items": _object_type(
        "line_items",
        "line_item",
        "0-8",
        {
            "name": _TEXT,
            "quantity": _NUMBER,
            "price": _NUMBER,
            "amount": Property("number", read_only=True),
            "hs_product_id": _TEXT,
            "hs_sku": _TEXT,
            "hs_line_item_currency_code": Property("enumeration", CURRENCIES),
            "psflow_role": _TEXT,
            "psflow_id": Property(unique=True),
        },
        ("name", "quantity", "price", "amount"),
    ),
    "contacts": _object_type(
        "contacts",
        "contact",
        "0-1",
        {
            "email": Property(unique=True),
            "firstname": _TEXT,
            "lastname": _TEXT,
            "jobtitle": _TEXT,
            "phone": _TEXT,
            "company": _TEXT,
        },
        ("firstname", "lastname", "email"),
    ),
}


@dataclass(frozen=True)
class AssociationType:
    """An association type: one direction between two object types.

    HUBSPOT_DEFINED types are fixed (`ASSOCIATION_TYPES`); USER_DEFINED ones are the account's
    labels, stored by ``_labels`` with ids of their own.
    """

    type_id: int
    from_type: str
    to_type: str
    name: str
    inverse: int
    label: str | None = None
    category: str = "HUBSPOT_DEFINED"


_HAS_PRIMARY = {("deals", "companies"), ("contacts", "companies")}


def _pair(from_type: str, to_type: str, forward: int, backward: int, label: str | None = None) -> list[AssociationType]:
    def singular(object_type: str) -> str:
        return OBJECT_TYPES[object_type].singular

    suffix = "" if label else "_unlabeled"
    unlabeled_pair = label is None and (from_type, to_type) in _HAS_PRIMARY
    forward_name = f"{singular(from_type)}_to_{singular(to_type)}{suffix if unlabeled_pair else ''}"
    backward_name = f"{singular(to_type)}_to_{singular(from_type)}{suffix if unlabeled_pair else ''}"
    return [
        AssociationType(forward, from_type, to_type, forward_name, backward, label),
        AssociationType(backward, to_type, from_type, backward_name, forward, label),
    ]


ASSOCIATION_TYPES: dict[int, AssociationType] = {
    spec.type_id: spec
    for spec in (
        *_pair("deals", "companies", 5, 6, "Primary"),
        *_pair("deals", "companies", 341, 342),
        *_pair("deals", "line_items", 19, 20),
        *_pair("deals", "contacts", 3, 4),
        # Unlabelled deal↔deal is one id both ways; research §3 leaves its number open (inferred).
        *_pair("deals", "deals", 451, 451),
        *_pair("contacts", "companies", 1, 2, "Primary"),
        *_pair("contacts", "companies", 279, 280),
    )
}


def default_association(from_type: str, to_type: str) -> AssociationType | None:
    """The unlabelled type between two object types (what every association carries)."""
    return next(
        (
            spec
            for spec in ASSOCIATION_TYPES.values()
            if spec.from_type == from_type and spec.to_type == to_type and spec.label is None
        ),
        None,
    )
