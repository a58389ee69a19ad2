"""The resource sync's activities: HR reads (``hr`` queue), PSA writes (``psa``), marks and events.

- `activities.resources.models`: what the workflow and the activities pass each other;
- `activities.resources.hr`: the HR system of each legal entity, through the HR port;
- `activities.resources.psa`: identity matching, users, profiles, leavers and time off in the PSA;
- `activities.resources.state`: the sync's marks in the store and its availability events.
"""
