"""Time & expense posting, the activity side: approved PSA records into the ERP, page by page, exactly once.

- `PostingActivities` (``_activity``): the ``erp.post_approved_page`` and ``erp.settle_posting_exceptions``
  activities, their paging and heartbeats;
- ``_pages``: one page read from Kantata, checked, posted to NetSuite and written to the ledger;
- ``_erp_facts``: the jobs, employees and periods a run looks up once;
- ``_rates``: each project's rates by date, read once per run, that time is priced with;
- ``_reprice``: ``erp.reprice_posted``, posted time an amendment re-rated: adjustments or exceptions;
- ``_retry``: ``erp.retry_posting``, one exception's record as a person edited it;
  ``_retry_input``: what they may edit, and the record an edit makes;
- `rules`: what a record must satisfy to be posted (pure), `rejections`: why one was not;
- `models`: what the workflow hands over and gets back (cursors and counts, never records).
"""

from activities.posting._activity import PostingActivities
from activities.posting._reprice import RepriceRequest, RepriceResult, RetroRateChanges
from activities.posting._retry import PostingRetryActivities, RetryPostingRequest
from activities.posting.models import KINDS, Kind, PostingCounts, PostPageRequest, PostPageResult, SettleRequest

__all__ = [
    "KINDS",
    "Kind",
    "PostPageRequest",
    "PostPageResult",
    "PostingActivities",
    "PostingCounts",
    "PostingRetryActivities",
    "RepriceRequest",
    "RepriceResult",
    "RetroRateChanges",
    "RetryPostingRequest",
    "SettleRequest",
]
