"""How the demo firm is drawn: name pools, the service catalogue and one random stream.

Kept apart from ``sandbox._firm`` (the dataclasses other code reads) because it changes for a
different reason — making the data more believable — and never changes its shape.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sandbox._firm import (
    CENT,
    EMAIL_DOMAIN,
    ROLES,
    Address,
    Client,
    Consultant,
    Contact,
    CostCentre,
    Expense,
    LineItem,
    Opportunity,
    Project,
    RateCard,
    RoleRate,
    SupervisoryOrg,
    Task,
    TimeEntry,
    TimeOff,
)

# fmt: off
# (name, industry, country) — fictional companies.
_CLIENTS = (
    ("Northwind Logistics", "Logistics", "US"),
    ("Bluehaven Insurance", "Insurance", "GB"),
    ("Crestline Energy", "Energy", "US"),
    ("Meridian Health Partners", "Healthcare", "US"),
    ("Alder & Finch Retail", "Retail", "GB"),
    ("Kestrel Aerospace", "Manufacturing", "GB"),
    ("Solano Foods", "Consumer Goods", "US"),
    ("Rheinwerk Maschinenbau", "Manufacturing", "DE"),
    ("Lumen Bank", "Financial Services", "NL"),
    ("Harbourside Property Group", "Real Estate", "GB"),
    ("Vireo Pharmaceuticals", "Life Sciences", "US"),
    ("Castellan Telecom", "Telecommunications", "FR"),
    ("Orchard Lane Hotels", "Hospitality", "GB"),
    ("Granite Peak Capital", "Financial Services", "US"),
    ("Tidewater Utilities", "Utilities", "US"),
    ("Brightwater Education Trust", "Education", "GB"),
    ("Nordlicht Versicherung", "Insurance", "DE"),
    ("Maison Verte Cosmetics", "Consumer Goods", "FR"),
    ("Pioneer Freight Systems", "Logistics", "US"),
    ("Silverline Media", "Media", "GB"),
    ("Ashford Civil Engineering", "Construction", "GB"),
    ("Quanta Semiconductor", "Technology", "US"),
    ("Delta Verde Agritech", "Agriculture", "NL"),
    ("Larkspur Software", "Technology", "IE"),
    ("Cobalt Ridge Mining", "Mining", "US"),
    ("Sterling & Hale", "Professional Services", "GB"),
    ("Ember Renewables", "Energy", "IE"),
    ("Ironbridge Manufacturing", "Manufacturing", "US"),
    ("Polaris Regional Transit", "Public Sector", "US"),
    ("Willow Creek Healthcare", "Healthcare", "GB"),
    ("Atlas Spezialchemie", "Chemicals", "DE"),
    ("Seabright Cruises", "Hospitality", "US"),
    ("Kingsmere Building Society", "Financial Services", "GB"),
    ("Riviera Fashion House", "Retail", "FR"),
    ("Summit Outdoor Gear", "Retail", "US"),
    ("Oakhurst Water", "Utilities", "GB"),
)
_CURRENCY = {"US": "USD", "GB": "GBP", "DE": "EUR", "FR": "EUR", "NL": "EUR", "IE": "EUR"}
# country -> (city, region, postal code format: 9 = digit, A = letter)
_CITIES = {
    "US": (("Chicago", "IL", "606999"), ("Boston", "MA", "021999"), ("Austin", "TX", "787999"),
           ("Denver", "CO", "802999")),
    "GB": (("London", "Greater London", "EC9A 9AA"), ("Manchester", "Greater Manchester", "M9 9AA"),
           ("Leeds", "West Yorkshire", "LS9 9AA"), ("Bristol", "Bristol", "BS9 9AA")),
    "DE": (("München", "Bayern", "809999"), ("Stuttgart", "Baden-Württemberg", "709999")),
    "FR": (("Paris", "Île-de-France", "750999"), ("Lyon", "Auvergne-Rhône-Alpes", "690999")),
    "NL": (("Amsterdam", "Noord-Holland", "1099 AA"), ("Rotterdam", "Zuid-Holland", "3099 AA")),
    "IE": (("Dublin", "County Dublin", "D09 A999"), ("Cork", "County Cork", "T99 A999")),
}
_STREETS = ("Market Street", "Harbour Road", "King Street", "Station Road", "Park Avenue", "Mill Lane",
            "Canal Street", "High Street", "Bridge Road", "Victoria Square", "Elm Street", "Riverside Drive")
_FIRST = ("Amelia", "Oliver", "Priya", "James", "Sofia", "Liam", "Chloe", "Noah", "Hannah", "Mateo", "Aisha",
          "Lucas", "Grace", "Ethan", "Isla", "Daniel", "Zara", "Samuel", "Maya", "Thomas", "Leah", "Arjun",
          "Emma", "Finn", "Nora", "Oscar", "Ines", "Ravi", "Clara", "Jonas", "Freya", "Marcus", "Elena",
          "Kai", "Sienna", "Hugo", "Aoife", "Felix", "Yara", "Rory", "Mei", "Adam", "Lena", "Tariq", "Ruth",
          "Ben", "Alice", "Dev", "Julia", "Owen", "Niamh", "Pedro", "Sara", "Theo", "Ada", "Luca")
_LAST = ("Patel", "Okafor", "Smith", "Johansson", "García", "Murphy", "Chen", "Müller", "Dubois", "Rossi",
         "Kowalski", "Nguyen", "Brennan", "Haddad", "Fischer", "Walsh", "Khan", "Morales", "Jansen", "Clarke",
         "Silva", "Novak", "Bennett", "Schmidt", "O'Brien", "Lindqvist", "Ahmed", "Fraser", "Moreau", "Kim",
         "Hughes", "de Vries", "Costa", "Reid", "Byrne", "Tanaka", "Wright", "Ferreira", "Lambert", "Shah")
_CONTACT_TITLES = ("CFO", "COO", "CIO", "VP Finance", "Head of Operations", "Director of Transformation",
                   "Head of IT", "Chief People Officer")
_PRACTICES = {
    "ADV": ("Advisory", ("Strategy", "Operating model design", "Business case", "Stakeholder management",
                         "Change management", "Financial modelling")),
    "TEC": ("Technology", ("Salesforce", "NetSuite", "Workday", "Data migration", "Python",
                           "Solution architecture", "Power BI", "Integration")),
    "OPS": ("Operations", ("Lean", "Supply chain", "Procurement", "Process mining", "PMO",
                           "Finance transformation")),
}
# region -> (country, currency, offices, weekly hours)
_REGIONS = {
    "UK": ("GB", "GBP", ("London", "Manchester"), Decimal("37.5")),
    "US": ("US", "USD", ("New York", "Chicago"), Decimal("40")),
    "EU": ("NL", "EUR", ("Amsterdam", "Dublin"), Decimal("40")),
}
_REGION_NAMES = {"UK": "United Kingdom", "US": "United States", "EU": "Europe"}
_GRADE_COUNTS = (("Partner", 4), ("Director", 5), ("Manager", 8), ("Senior Consultant", 12),
                 ("Consultant", 13), ("Analyst", 8))
_TITLES = {
    "Partner": ("Partner", "Managing Partner"),
    "Director": ("Director", "Associate Director"),
    "Manager": ("Manager", "Engagement Manager", "Senior Manager"),
    "Senior Consultant": ("Senior Consultant",),
    "Consultant": ("Consultant", "Technical Consultant"),
    "Analyst": ("Business Analyst", "Data Analyst", "Analyst"),
}
_COST_USD = {"Partner": 260, "Director": 200, "Manager": 140, "Senior Consultant": 105, "Consultant": 80,
             "Analyst": 55}
_FX = {"USD": Decimal("1"), "GBP": Decimal("0.8"), "EUR": Decimal("0.92")}
_RATES = {
    "USD": (450, 380, 295, 235, 185, 140),
    "GBP": (360, 305, 235, 190, 150, 110),
    "EUR": (415, 350, 270, 215, 170, 130),
}
# (product, role, min hours, max hours) — the service catalogue line items are drawn from.
_CATALOGUE = (
    ("Executive steering", "Partner", 8, 24),
    ("Discovery workshop", "Manager", 16, 40),
    ("Target operating model design", "Director", 24, 80),
    ("Current-state assessment", "Senior Consultant", 40, 120),
    ("Solution design", "Senior Consultant", 40, 160),
    ("Configuration & build", "Consultant", 80, 320),
    ("Data migration", "Consultant", 40, 200),
    ("Testing & quality assurance", "Analyst", 40, 160),
    ("Change management", "Manager", 24, 120),
    ("Training & enablement", "Consultant", 16, 80),
    ("Programme management", "Manager", 40, 200),
    ("Post go-live support", "Analyst", 24, 80),
)
_THEMES = ("ERP implementation", "Finance transformation", "Supply chain diagnostic", "Operating model redesign",
           "Salesforce rollout", "Data platform modernisation", "Cost reduction programme",
           "Workday HR deployment", "Post-merger integration", "Procurement excellence", "Customer analytics",
           "Cloud migration readiness")
_PROBABILITY = {"Prospecting": 10, "Qualification": 25, "Proposal": 50, "Negotiation": 75, "Closed Won": 100,
                "Closed Lost": 0}
_STAGE_PLAN = (("Closed Won", 12), ("Closed Lost", 8), ("Prospecting", 10), ("Qualification", 10),
               ("Proposal", 10), ("Negotiation", 10))
_ACTIVITIES = ("stakeholder interviews", "workshop preparation", "analysis and write-up", "client working session",
               "review with engagement lead", "documentation", "issue follow-up", "status reporting")
# category -> (min, max) amount in USD; scaled by currency
_EXPENSES = {"Airfare": (180, 900), "Rail": (40, 220), "Lodging": (140, 320), "Meals": (15, 90),
             "Mileage": (20, 120), "Taxi": (12, 70)}
# fmt: on


def business_day(anchor: date, offset: int) -> date:
    """The weekday ``offset`` business days from ``anchor``: -1 is the last weekday before it,
    0 the first weekday on or after it.

    The firm draws its calendar-bound data (time off, time entries) in business-day offsets and
    only then turns them into dates, so which records exist is the same for every anchor: a
    weekend falling differently shifts the dates, never the random stream.
    """
    step = -1 if offset < 0 else 1
    remaining = -offset if offset < 0 else offset + 1
    day = anchor - timedelta(days=1) if offset < 0 else anchor
    while True:
        if day.weekday() < 5:
            remaining -= 1
            if remaining == 0:
                return day
        day += timedelta(days=step)


def business_days_before(today: date, n: int) -> tuple[date, ...]:
    """The ``n`` weekdays before ``today``, oldest first."""
    return tuple(business_day(today, -offset) for offset in range(n, 0, -1))


def _monday_on_or_after(day: date) -> date:
    return day + timedelta(days=-day.weekday() % 7)


def _email_local(first: str, last: str) -> str:
    """ASCII "first.last": accents dropped, apostrophes and spaces removed."""
    folded = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore").decode()
    return folded.lower().replace("'", "").replace(" ", "")


def _postal(rng: random.Random, pattern: str) -> str:
    return "".join(
        str(rng.randint(0, 9)) if c == "9" else rng.choice("ABDEFHJLNPRSTWXY") if c == "A" else c for c in pattern
    )


def _slug(name: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in name.lower().replace("&", " and ")).split()
    return "-".join(words)


def _half_hours(value: float) -> Decimal:
    return Decimal(round(value * 2)) / 2


class Builder:
    """Draws every part of the firm in a fixed order from one random stream."""

    def __init__(self, seed: int, today: date) -> None:
        self.rng = random.Random(seed)
        self.today = today
        # 25 business days: always some of the month before the anchor's, which the demo invoices.
        self.window = business_days_before(today, 25)

    def rate_cards(self) -> tuple[RateCard, ...]:
        return tuple(
            RateCard(
                id=f"RC-{ccy}",
                name=f"Standard rates ({ccy})",
                currency=ccy,
                rates=tuple(RoleRate(role, Decimal(r)) for role, r in zip(ROLES, rates, strict=True)),
            )
            for ccy, rates in _RATES.items()
        )

    def organisation(self) -> tuple[tuple[Consultant, ...], tuple[CostCentre, ...], tuple[SupervisoryOrg, ...]]:
        rng = self.rng
        names: list[tuple[str, str]] = []
        while len(names) < sum(n for _, n in _GRADE_COUNTS):
            pair = (rng.choice(_FIRST), rng.choice(_LAST))
            if pair not in names:
                names.append(pair)
        grades = [grade for grade, n in _GRADE_COUNTS for _ in range(n)]
        slots = [(practice, region) for practice in _PRACTICES for region in _REGIONS]
        people: list[dict[str, Any]] = []
        for i, (grade, (first, last)) in enumerate(zip(grades, names, strict=True)):
            # The first nine (the most senior) head one org each; the rest spread at random.
            practice, region = slots[i] if i < len(slots) else rng.choice(slots)
            country, currency, offices, weekly = _REGIONS[region]
            skills = _PRACTICES[practice][1]
            people.append(
                {
                    "employee_id": f"E-{1001 + i}",
                    "first_name": first,
                    "last_name": last,
                    "email": f"{_email_local(first, last)}@{EMAIL_DOMAIN}",
                    "title": rng.choice(_TITLES[grade]),
                    "grade": grade,
                    "practice": _PRACTICES[practice][0],
                    "cost_centre": f"CC-{practice}-{region}",
                    "supervisory_org": f"SO-{practice}-{region}",
                    "skills": tuple(rng.sample(skills, rng.randint(3, 5))),
                    "cost_rate": (
                        Decimal(_COST_USD[grade]) * _FX[currency] * Decimal(str(round(rng.uniform(0.92, 1.08), 3)))
                    ).quantize(Decimal("1")),
                    "cost_currency": currency,
                    "location": rng.choice(offices),
                    "country": country,
                    "hire_date": self.today - timedelta(days=rng.randint(120, 365 * (14 - 2 * ROLES.index(grade)))),
                    "weekly_hours": weekly,
                    "time_off": self._time_off(),
                }
            )
        centres: list[CostCentre] = []
        orgs: list[SupervisoryOrg] = []
        heads: dict[str, str] = {}
        for practice, region in slots:
            org_id = f"SO-{practice}-{region}"
            members = [p for p in people if p["supervisory_org"] == org_id]
            head = min(members, key=lambda p: (ROLES.index(p["grade"]), p["employee_id"]))
            heads[org_id] = head["employee_id"]
            name = _PRACTICES[practice][0]
            centres.append(CostCentre(f"CC-{practice}-{region}", f"{name} - {_REGION_NAMES[region]}", name, region))
            orgs.append(SupervisoryOrg(org_id, f"{name} {region}", head["employee_id"], f"CC-{practice}-{region}"))
        managing_partner = people[0]["employee_id"]
        consultants = []
        for p in people:
            manager: str | None = heads[p["supervisory_org"]]
            if manager == p["employee_id"]:
                manager = None if p["employee_id"] == managing_partner else managing_partner
            consultants.append(Consultant(manager_id=manager, **p))
        return tuple(consultants), tuple(centres), tuple(orgs)

    def _time_off(self) -> tuple[TimeOff, ...]:
        rng = self.rng
        offsets: set[int] = set()
        for _ in range(rng.randint(0, 3)):
            start = rng.randint(-22, 43)  # about 30 calendar days back to 60 ahead
            offsets.update(range(start, start + rng.choice((1, 1, 2, 3, 5))))
        past_kinds = ("Vacation", "Vacation", "Vacation", "Personal", "Sick")
        future_kinds = ("Vacation", "Vacation", "Personal")
        return tuple(
            TimeOff(business_day(self.today, n), Decimal("8"), rng.choice(past_kinds if n < 0 else future_kinds))
            for n in sorted(offsets)
        )

    def clients(self, partners: list[str]) -> tuple[Client, ...]:
        rng = self.rng
        order = list(_CLIENTS)
        rng.shuffle(order)
        clients = []
        for i, (name, industry, country) in enumerate(order):
            city, region, postal = rng.choice(_CITIES[country])
            website = f"{_slug(name)}.example"
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            clients.append(
                Client(
                    id=f"C-{i + 1:04d}",
                    name=name,
                    industry=industry,
                    country=country,
                    currency=_CURRENCY[country],
                    billing_address=Address(
                        line1=f"{rng.randint(1, 240)} {rng.choice(_STREETS)}",
                        city=city,
                        region=region,
                        postal_code=_postal(rng, postal),
                        country=country,
                    ),
                    payment_terms=rng.choice(("Net 30", "Net 30", "Net 45")),
                    website=website,
                    contact=Contact(first, last, f"{_email_local(first, last)}@{website}", rng.choice(_CONTACT_TITLES)),
                    account_owner_id=rng.choice(partners),
                )
            )
        return tuple(clients)

    def opportunities(
        self, clients: tuple[Client, ...], cards: dict[str, RateCard], sellers: list[str]
    ) -> tuple[Opportunity, ...]:
        rng = self.rng
        stages = [stage for stage, n in _STAGE_PLAN for _ in range(n)]
        rng.shuffle(stages)
        # Every client has at least one opportunity; the rest go to clients at random.
        owners = list(clients) + [rng.choice(clients) for _ in range(len(stages) - len(clients))]
        rng.shuffle(owners)
        opportunities = []
        for i, (stage, client) in enumerate(zip(stages, owners, strict=True)):
            opp_id = f"OPP-{i + 1:04d}"
            card = cards[client.currency]
            if stage == "Closed Won":
                # Started before the oldest day of the window, so every won project is active all of it.
                close = self.today - timedelta(days=rng.randint(55, 160))
                start = _monday_on_or_after(close + timedelta(days=rng.randint(3, 10)))
            elif stage == "Closed Lost":
                close = self.today - timedelta(days=rng.randint(10, 200))
                start = _monday_on_or_after(close + timedelta(days=rng.randint(14, 30)))
            else:
                close = self.today + timedelta(days=rng.randint(7, 120))
                start = _monday_on_or_after(close + timedelta(days=rng.randint(14, 30)))
            end = start + timedelta(weeks=rng.randint(12, 40), days=4)
            if stage == "Closed Won":
                end = max(end, _monday_on_or_after(self.today + timedelta(days=21)) + timedelta(days=4))
            picked = sorted(rng.sample(range(len(_CATALOGUE)), rng.randint(3, 6)))
            items = []
            for n, index in enumerate(picked, start=1):
                product, role, low, high = _CATALOGUE[index]
                items.append(
                    LineItem(
                        id=f"{opp_id}-{n:02d}",
                        product=product,
                        role=role,
                        quantity_hours=Decimal(rng.randint(low // 8, high // 8) * 8),
                        unit_price=card.rate_for(role),
                    )
                )
            opportunities.append(
                Opportunity(
                    id=opp_id,
                    client_id=client.id,
                    name=f"{client.name} - {rng.choice(_THEMES)}",
                    stage=stage,
                    probability=_PROBABILITY[stage],
                    amount=sum((item.amount for item in items), Decimal("0.00")),
                    currency=client.currency,
                    close_date=close,
                    rate_card_id=card.id,
                    start_date=start,
                    end_date=end,
                    billing_type=rng.choice(("time_and_materials",) * 7 + ("fixed_fee",) * 3),
                    owner_id=rng.choice(sellers),
                    line_items=tuple(items),
                )
            )
        return tuple(opportunities)

    def projects(self, won: list[Opportunity], consultants: tuple[Consultant, ...]) -> tuple[Project, ...]:
        rng = self.rng
        load: dict[str, int] = {c.employee_id: 0 for c in consultants}
        by_grade = {grade: [c for c in consultants if c.grade == grade] for grade in ROLES}
        projects = []
        for i, opp in enumerate(sorted(won, key=lambda o: o.id)):
            code = f"PRJ-{i + 1:04d}"

            manager = self._pick(load, by_grade, ("Manager", "Director"), opp.currency)
            team = [manager]
            for role in ("Senior Consultant", "Consultant", "Analyst")[: rng.randint(1, 3)]:
                team.append(self._pick(load, by_grade, (role,), opp.currency))
            tasks = tuple(
                Task(code=f"{code}-T{n:02d}", name=item.product, role=item.role, budget_hours=item.quantity_hours)
                for n, item in enumerate(opp.line_items, start=1)
            )
            projects.append(
                Project(
                    code=code,
                    name=opp.name,
                    client_id=opp.client_id,
                    opportunity_id=opp.id,
                    currency=opp.currency,
                    budget=opp.amount,
                    billing_type=opp.billing_type,
                    rate_card_id=opp.rate_card_id,
                    start_date=opp.start_date,
                    end_date=opp.end_date,
                    project_manager_id=manager,
                    team=tuple(team),
                    tasks=tasks,
                )
            )
        return tuple(projects)

    def _pick(
        self, load: dict[str, int], by_grade: dict[str, list[Consultant]], grades: tuple[str, ...], currency: str
    ) -> str:
        """The least-staffed consultant of these grades (at most two projects each), local first."""
        pool = [c for grade in grades for c in by_grade[grade] if load[c.employee_id] < 2]
        local = [c for c in pool if c.cost_currency == currency] or pool
        chosen = min(local, key=lambda c: (load[c.employee_id], self.rng.random()))
        load[chosen.employee_id] += 1
        return chosen.employee_id

    def time_entries(
        self, projects: tuple[Project, ...], consultants: tuple[Consultant, ...], cards: dict[str, RateCard]
    ) -> tuple[TimeEntry, ...]:
        rng = self.rng
        people = {c.employee_id: c for c in consultants}
        staffing: dict[str, list[Project]] = {}
        for project in projects:
            for member in project.team:
                staffing.setdefault(member, []).append(project)
        recent = set(self.window[-4:])
        entries: list[TimeEntry] = []
        for day in self.window:
            for employee_id in sorted(staffing):
                person = people[employee_id]
                if day in {t.day for t in person.time_off} or rng.random() < 0.12:
                    continue
                active = [p for p in staffing[employee_id] if p.start_date <= day <= p.end_date]
                if not active:
                    continue
                total = float(rng.choice((4, 6, 7, 7.5, 8, 8, 8, 8.5, 9, 10)))
                split = [total] if len(active) == 1 else [total / 2 + rng.choice((-1.5, -1, 0, 1, 1.5))]
                if len(active) == 2:
                    split.append(total - split[0])
                for project, hours in zip(active, split, strict=True):
                    task = self._task_for(project, person.grade)
                    roll = rng.random()
                    if day in recent:
                        state = "submitted" if roll < 0.55 else "rejected" if roll < 0.6 else "approved"
                    else:
                        state = "rejected" if roll < 0.03 else "submitted" if roll < 0.06 else "approved"
                    billable = rng.random() >= 0.08
                    entries.append(
                        TimeEntry(
                            id=f"TE-{len(entries) + 1:05d}",
                            consultant_id=employee_id,
                            project_code=project.code,
                            task_code=task.code,
                            date_performed=day,
                            hours=min(max(_half_hours(hours), Decimal("0.5")), Decimal("10")),
                            billable=billable,
                            role=person.grade,
                            bill_rate=cards[project.currency].rate_for(person.grade),
                            currency=project.currency,
                            approval_state=state,
                            notes=f"{task.name}: {rng.choice(_ACTIVITIES)}" if billable else "Internal coordination",
                        )
                    )
        return tuple(entries)

    def _task_for(self, project: Project, role: str) -> Task:
        matching = [t for t in project.tasks if t.role == role]
        return self.rng.choice(matching or list(project.tasks))

    def expenses(self, projects: tuple[Project, ...], count: int = 120) -> tuple[Expense, ...]:
        rng = self.rng
        drawn = []
        for _ in range(count):
            project = rng.choice(projects)
            category = rng.choice(tuple(_EXPENSES))
            low, high = _EXPENSES[category]
            drawn.append(
                Expense(
                    id="",  # numbered once sorted
                    consultant_id=rng.choice(project.team),
                    project_code=project.code,
                    date_incurred=rng.choice([d for d in self.window if d >= project.start_date]),
                    category=category,
                    description=f"{category} - {project.name}",
                    amount=(Decimal(str(round(rng.uniform(low, high), 2))) * _FX[project.currency]).quantize(CENT),
                    currency=project.currency,
                    billable=rng.random() < 0.85,
                    approved=rng.random() < 0.85,
                )
            )
        drawn.sort(key=lambda e: (e.date_incurred, e.project_code, e.consultant_id))
        return tuple(replace(expense, id=f"EX-{i + 1:04d}") for i, expense in enumerate(drawn))
