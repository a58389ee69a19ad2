"""Time & expense posting, the activity side: approved PSA records into the ERP, page by page, exactly once."""

from activities.posting._activity import (
    KINDS,
    Kind,
    PostingActivities,
    PostingCounts,
    PostPageRequest,
    PostPageResult,
    SettleRequest,
)

__all__ = ["KINDS", "Kind", "PostPageRequest", "PostPageResult", "PostingActivities", "PostingCounts", "SettleRequest"]
