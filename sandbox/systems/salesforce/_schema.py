"""The sObjects the emulator knows: fields, types, relationships and record ids.

Field and relationship names are looked up case-insensitively, as Salesforce does, and always
answered in their canonical spelling. Custom fields (``__c``) are the ones psflow's demo org
adds: ``PSFlow_Id__c`` (an External ID, not unique, so an upsert can meet 300 Multiple Choices),
``Payment_Terms__c`` on Account, ``Start_Date__c``/``End_Date__c``/``Billing_Type__c``/
``Rate_Card__c`` on Opportunity and ``Role__c`` on OpportunityLineItem.

The Contract (key prefix ``800``) and the Salesforce CPQ managed package's fields and objects
(``SBQQ__``: the amendment opportunity's ``SBQQ__AmendedContract__c`` and ``SBQQ__PrimaryQuote__c``,
the quote ``SBQQ__Quote__c``, the contract's ``SBQQ__Opportunity__c`` ...) follow research note
apis-round2.md §2 ("Contract", "Amendments").
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field

NAME = "salesforce"
API_VERSION = "62.0"

TEXT_TYPES = frozenset({"string", "textarea", "picklist", "email", "url", "phone"})
ID_TYPES = frozenset({"id", "reference"})
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})

CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD", "CHF", "JPY", "SEK", "NOK", "DKK", "NZD", "SGD", "INR")
BILLING_TYPES = ("Time and Materials", "Fixed Fee")
# Standard stages first, then the shorter names the demo firm's sales team uses.
STAGE_PROBABILITY = {
    "Prospecting": 10,
    "Qualification": 10,
    "Needs Analysis": 20,
    "Value Proposition": 50,
    "Id. Decision Makers": 60,
    "Perception Analysis": 70,
    "Proposal/Price Quote": 75,
    "Negotiation/Review": 90,
    "Proposal": 50,
    "Negotiation": 75,
    "Closed Won": 100,
    "Closed Lost": 0,
}
WON_STAGES = frozenset({"Closed Won"})
CONTRACT_STATUSES = {
    "Draft": "Draft",
    "In Approval Process": "InApproval",
    "Activated": "Activated",
    "Terminated": "Terminated",
    "Expired": "Expired",
}
"""Contract ``Status`` values and the ``StatusCode`` each maps to (the org's picklist, Salesforce's codes)."""
API_CONTRACT_STATUS_CODES = frozenset({"Draft", "InApproval", "Activated"})
"""The status codes a Contract may be given through the API; Terminated and Expired are refused."""
QUOTE_TYPES = ("Quote", "Amendment", "Renewal")
CLOSED_STAGES = frozenset({"Closed Won", "Closed Lost"})


@dataclass(frozen=True)
class Field:
    """One field of an sObject.

    Attributes:
        name: Canonical API name.
        type: Salesforce field type (``string``, ``reference``, ``date``, ``currency`` ...).
        required: Must be present on create and never nulled.
        createable: May be set on create.
        updateable: May be changed on update.
        external_id: Flagged as External ID (usable in upsert URLs).
        reference_to: The sObject a ``reference`` field points at.
        relationship: The parent relationship name of a ``reference`` field (``Account``).
        values: Allowed values of a restricted picklist (empty: unrestricted).
    """

    name: str
    type: str
    required: bool = False
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    reference_to: str | None = None
    relationship: str | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Child:
    """A child relationship: ``Opportunity.OpportunityLineItems`` is (OpportunityLineItem, OpportunityId)."""

    name: str
    sobject: str
    field: str
    cascade_delete: bool


@dataclass(frozen=True)
class SObject:
    """An sObject type with its key prefix, fields and child relationships."""

    name: str
    prefix: str
    fields: tuple[Field, ...]
    children: tuple[Child, ...] = ()
    _by_lower: dict[str, Field] = dataclass_field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_lower.update({f.name.lower(): f for f in self.fields})

    def field(self, name: str) -> Field | None:
        """The field called ``name`` (any case), or None."""
        return self._by_lower.get(name.lower())

    def parent(self, relationship: str) -> Field | None:
        """The reference field behind a parent relationship name (any case), or None."""
        wanted = relationship.lower()
        return next((f for f in self.fields if f.relationship and f.relationship.lower() == wanted), None)

    def child(self, relationship: str) -> Child | None:
        """The child relationship called ``relationship`` (any case), or None."""
        wanted = relationship.lower()
        return next((c for c in self.children if c.name.lower() == wanted), None)


def _ref(name: str, to: str, *, required: bool = False, updateable: bool = True) -> Field:
    # A custom lookup's relationship is its name with __r (SBQQ__MasterContract__c -> SBQQ__MasterContract__r).
    relationship = name.removesuffix("__c") + "__r" if name.endswith("__c") else to
    return Field(
        name, "reference", required=required, updateable=updateable, reference_to=to, relationship=relationship
    )


def _read_only(name: str, type_: str) -> Field:
    return Field(name, type_, createable=False, updateable=False)


_SYSTEM_FIELDS = (
    _read_only("Id", "id"),
    _read_only("CreatedDate", "datetime"),
    _read_only("LastModifiedDate", "datetime"),
    _read_only("SystemModstamp", "datetime"),
)
_PSFLOW_ID = Field("PSFlow_Id__c", "string", external_id=True)
_CURRENCY = Field("CurrencyIsoCode", "picklist", values=CURRENCIES)

SOBJECTS: dict[str, SObject] = {
    s.name.lower(): s
    for s in (
        SObject(
            "Account",
            "001",
            (
                *_SYSTEM_FIELDS,
                Field("Name", "string", required=True),
                Field("Type", "picklist"),
                Field("Industry", "picklist"),
                Field("Description", "textarea"),
                Field("Website", "url"),
                Field("Phone", "phone"),
                Field("BillingStreet", "textarea"),
                Field("BillingCity", "string"),
                Field("BillingState", "string"),
                Field("BillingPostalCode", "string"),
                Field("BillingCountry", "string"),
                _CURRENCY,
                Field("Payment_Terms__c", "picklist"),
                _PSFLOW_ID,
            ),
            (
                Child("Contacts", "Contact", "AccountId", cascade_delete=True),
                Child("Opportunities", "Opportunity", "AccountId", cascade_delete=True),
                Child("Contracts", "Contract", "AccountId", cascade_delete=True),
            ),
        ),
        SObject(
            "Contract",
            "800",
            (
                *_SYSTEM_FIELDS,
                _ref("AccountId", "Account", required=True),
                Field("Name", "string"),
                Field("Status", "picklist", values=tuple(CONTRACT_STATUSES)),
                _read_only("StatusCode", "picklist"),
                Field("StartDate", "date"),
                Field("ContractTerm", "int"),
                _read_only("EndDate", "date"),
                _read_only("ContractNumber", "string"),
                _read_only("ActivatedDate", "datetime"),
                Field("Description", "textarea"),
                _CURRENCY,
                _ref("SBQQ__Opportunity__c", "Opportunity"),
                _ref("SBQQ__Quote__c", "SBQQ__Quote__c"),
                Field("SBQQ__RenewalForecast__c", "boolean"),
                Field("SBQQ__RenewalQuoted__c", "boolean"),
                Field("SBQQ__Evergreen__c", "boolean"),
                Field("SBQQ__AmendmentRenewalBehavior__c", "picklist"),
                Field("SBQQ__MasterContract__c", "boolean"),
                _PSFLOW_ID,
            ),
        ),
        SObject(
            "SBQQ__Quote__c",
            "a0q",
            (
                *_SYSTEM_FIELDS,
                _read_only("Name", "string"),
                Field("SBQQ__Type__c", "picklist", values=QUOTE_TYPES),
                Field("SBQQ__Status__c", "picklist"),
                _ref("SBQQ__Account__c", "Account"),
                _ref("SBQQ__Opportunity2__c", "Opportunity"),
                _ref("SBQQ__MasterContract__c", "Contract"),
                Field("SBQQ__StartDate__c", "date"),
                Field("SBQQ__EndDate__c", "date"),
                Field("SBQQ__Primary__c", "boolean"),
                _CURRENCY,
            ),
        ),
        SObject(
            "Contact",
            "003",
            (
                *_SYSTEM_FIELDS,
                _ref("AccountId", "Account"),
                Field("FirstName", "string"),
                Field("LastName", "string", required=True),
                Field("Email", "email"),
                Field("Title", "string"),
                Field("Phone", "phone"),
                _CURRENCY,
                _PSFLOW_ID,
            ),
        ),
        SObject(
            "Opportunity",
            "006",
            (
                *_SYSTEM_FIELDS,
                Field("Name", "string", required=True),
                _ref("AccountId", "Account"),
                Field("StageName", "picklist", required=True, values=tuple(STAGE_PROBABILITY)),
                Field("Amount", "currency"),
                Field("CloseDate", "date", required=True),
                Field("Probability", "percent"),
                _read_only("IsClosed", "boolean"),
                _read_only("IsWon", "boolean"),
                Field("Type", "picklist"),
                Field("Description", "textarea"),
                _ref("Pricebook2Id", "Pricebook2"),
                _CURRENCY,
                Field("Start_Date__c", "date"),
                Field("End_Date__c", "date"),
                Field("Billing_Type__c", "picklist", values=BILLING_TYPES),
                Field("Rate_Card__c", "string"),
                _ref("ContractId", "Contract"),
                _ref("SBQQ__AmendedContract__c", "Contract"),
                _ref("SBQQ__PrimaryQuote__c", "SBQQ__Quote__c"),
                _PSFLOW_ID,
            ),
            (Child("OpportunityLineItems", "OpportunityLineItem", "OpportunityId", cascade_delete=True),),
        ),
        SObject(
            "OpportunityLineItem",
            "00k",
            (
                *_SYSTEM_FIELDS,
                _ref("OpportunityId", "Opportunity", required=True, updateable=False),
                _ref("PricebookEntryId", "PricebookEntry", updateable=False),
                _ref("Product2Id", "Product2", updateable=False),
                _read_only("Name", "string"),
                _read_only("ProductCode", "string"),
                Field("Quantity", "double", required=True),
                Field("UnitPrice", "currency"),
                Field("TotalPrice", "currency"),
                _read_only("ListPrice", "currency"),
                Field("ServiceDate", "date"),
                Field("Description", "string"),
                Field("Role__c", "picklist"),
                _read_only("CurrencyIsoCode", "picklist"),
                _PSFLOW_ID,
            ),
        ),
        SObject(
            "Product2",
            "01t",
            (
                *_SYSTEM_FIELDS,
                Field("Name", "string", required=True),
                Field("ProductCode", "string"),
                Field("Description", "textarea"),
                Field("Family", "picklist"),
                Field("IsActive", "boolean"),
                _PSFLOW_ID,
            ),
            (Child("PricebookEntries", "PricebookEntry", "Product2Id", cascade_delete=True),),
        ),
        SObject(
            "Pricebook2",
            "01s",
            (
                *_SYSTEM_FIELDS,
                Field("Name", "string", required=True),
                Field("Description", "textarea"),
                Field("IsActive", "boolean"),
                _read_only("IsStandard", "boolean"),
            ),
            (Child("PricebookEntries", "PricebookEntry", "Pricebook2Id", cascade_delete=True),),
        ),
        SObject(
            "PricebookEntry",
            "01u",
            (
                *_SYSTEM_FIELDS,
                _ref("Pricebook2Id", "Pricebook2", required=True, updateable=False),
                _ref("Product2Id", "Product2", required=True, updateable=False),
                Field("UnitPrice", "currency", required=True),
                Field("IsActive", "boolean"),
                Field("CurrencyIsoCode", "picklist", values=CURRENCIES, updateable=False),
                _read_only("Name", "string"),
                _read_only("ProductCode", "string"),
            ),
        ),
    )
}


def sobject(name: str) -> SObject | None:
    """The sObject type called ``name`` (any case), or None."""
    return SOBJECTS.get(name.lower())


def record_url(sobject: str, record_id: str, version: str = API_VERSION) -> str:
    """The instance-relative URL of a record, as in ``attributes.url``."""
    return f"/services/data/v{version}/sobjects/{sobject}/{record_id}"
