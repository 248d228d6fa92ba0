"""The catalog's tables. Times are UTC epoch seconds (floats) throughout."""

from __future__ import annotations

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DatabaseProxy,
    DoubleField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from .kinds import DEFAULT_INCLUDE_JSON, VIDEO

db = DatabaseProxy()

# Tracking modes of a subscription (see DESIGN.md, "Gating auto-downloads").
FUTURE_ONLY = "future_only"
CATALOG_ONLY = "catalog_only"
MODES = (FUTURE_ONLY, CATALOG_ONLY)

# Download states of a video.
NOT_WANTED = "none"
PENDING = "pending"
DOWNLOADING = "downloading"
COMPLETE = "complete"
FAILED = "failed"
# The video exists but cannot be had (private, members-only, removed, age-gated, geo-blocked):
# final, never retried, never asked for again by a poll.
UNAVAILABLE = "unavailable"
DOWNLOAD_STATES = (NOT_WANTED, PENDING, DOWNLOADING, COMPLETE, FAILED, UNAVAILABLE)

# Event kinds.
NEW_EPISODE = "new_episode"
CATALOGED = "catalog"
DOWNLOADED = "downloaded"  # a file is complete; its payload carries the path
DOWNLOAD_FAILED = "download_failed"  # a download ended failed; its payload carries the reason
# Events a notification target may ask for (poller/notices.py).
CHANNEL_FAILING = "channel_failing"
HOST_PAUSED = "host_paused"

# States of one notification's delivery.
DELIVERY_PENDING = "pending"  # queued, or waiting out a retry (`reason` says why)
DELIVERY_SENT = "sent"
DELIVERY_FAILED = "failed"  # given up: its retries are spent, or it cannot succeed


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class User(BaseModel):
    id = AutoField()
    name = CharField(max_length=64, unique=True)
    token_hash = CharField(max_length=64, unique=True)
    is_admin = BooleanField(default=False)
    created_at = DoubleField()


class Host(BaseModel):
    """One host's shared request budget, pause and health (see poller/hosts.py).

    `next_slot_at` is when the host's next request may go (GCRA). A pause
    holds every request until `paused_until`; then one probe (`probe_token`
    names its owner, `probe_until` its lease) decides whether it ends or
    doubles. `paused_until` stays set until the probe succeeds.
    """

    id = AutoField()
    name = CharField(max_length=300, unique=True)  # lower-case host[:port]
    created_at = DoubleField()
    next_slot_at = DoubleField(default=0)
    paused_until = DoubleField(null=True)
    pause_reason = TextField(null=True)
    pause_level = IntegerField(default=0)
    probe_until = DoubleField(null=True)
    probe_token = CharField(max_length=64, null=True)
    # A window of 403s (a burst pauses the host); written only on a 403.
    forbidden_count = IntegerField(default=0)
    forbidden_since = DoubleField(null=True)
    degraded_since = DoubleField(null=True)
    # Its polled channels and the sum of their `poll_weight`, kept by the tick
    # (`host_store.refresh_shares`): how a poll splits the budget (poller/cadence.py).
    polled_channels = IntegerField(default=0)
    weight_sum = DoubleField(default=0)


class Channel(BaseModel):
    """A feed we poll, shared by all its subscribers.

    `next_poll_at` is NULL when nobody subscribes, or every subscriber paused
    it (`paused_at`): such a channel is never due.
    `claimed_until` is the lease a tick takes so that nobody enqueues it twice.
    """

    id = AutoField()
    kind = CharField(max_length=16)  # "youtube" or "feed"
    external_id = CharField(max_length=64, null=True)  # UC… for YouTube
    feed_url = CharField(max_length=2048, unique=True)
    title = TextField(default="")
    etag = CharField(max_length=512, null=True)
    last_modified = CharField(max_length=128, null=True)
    created_at = DoubleField()
    last_polled_at = DoubleField(null=True)
    next_poll_at = DoubleField(null=True)  # indexed with id: see Meta
    claimed_until = DoubleField(default=0)
    interval_s = DoubleField(default=300)
    consecutive_failures = IntegerField(default=0)
    last_error = TextField(null=True)
    last_error_at = DoubleField(null=True)
    # The last poll's one-line outcome ("not_modified", "new=3", "failed …").
    last_outcome = CharField(max_length=64, null=True)
    # Raised when a redelivered poll starts, reset when a poll ends: a count
    # that keeps rising means the poll kills its worker (such redeliveries do
    # not raise Dramatiq's retry count).
    poll_attempts = IntegerField(default=0)
    # Set once yt-dlp listed the whole catalog; NULL means "list it".
    cataloged_at = DoubleField(null=True)
    catalog_error = TextField(null=True)
    # Recent upload times (JSON list of epoch seconds) for the adaptive cadence.
    upload_history = TextField(default="[]")
    # A problem the last poll got past without failing (a feed that is not
    # well-formed XML but still gave entries): shown, never backed off for.
    warning = TextField(null=True)
    # The host its polls spend from (poller/hosts.py); set at subscribe, and
    # by `db init` for rows from before the column. NULL: not budgeted.
    host = ForeignKeyField(Host, null=True, on_delete="SET NULL")
    # Its share of its host's budget (poller/cadence.py), written by each
    # successful poll; NULL until the first.
    poll_weight = DoubleField(null=True)
    # How the last failure counted for the host (poller.host_signals.classify);
    # meaningful while last_outcome is "failed". Degraded hosts are found by it.
    last_failure_kind = CharField(max_length=16, null=True)
    # Set while every subscriber has paused it; `next_poll_at` is NULL then,
    # so the claim skips it on the index it already uses.
    paused_at = DoubleField(null=True)
    # The earliest re-check of its upcoming videos (poller.window.recheck_at):
    # the poll that comes at or after it looks at them again. NULL: none.
    upcoming_due_at = DoubleField(null=True)
    host_id: int | None

    class Meta:
        # The claim walks due channels in (next_poll_at, id) order and each
        # batch starts after the last one's final row, on this index: no batch
        # scans the rows claimed before it (`claim.claim_with_hosts`).
        indexes = ((("next_poll_at", "id"), False),)


class Subscription(BaseModel):
    id = AutoField()
    user = ForeignKeyField(User, backref="subscriptions", on_delete="CASCADE")
    channel = ForeignKeyField(Channel, backref="subscriptions", on_delete="CASCADE")
    mode = CharField(max_length=16, default=FUTURE_ONLY)
    created_at = DoubleField()
    # The kinds this subscriber gets (JSON list, see poller.kinds): others are
    # cataloged for the channel but not referenced, announced or downloaded.
    include = TextField(default=DEFAULT_INCLUDE_JSON)
    # When this subscriber paused the channel (NULL: not paused). The channel
    # stops being polled once all its subscribers have paused it.
    paused_at = DoubleField(null=True)
    # The foreign keys' raw ids, which peewee adds at run time (for type checkers).
    user_id: int
    channel_id: int

    class Meta:
        indexes = ((("user", "channel"), True), (("channel", "mode"), False))


class Video(BaseModel):
    """One upload, cataloged once whatever the number of subscribers."""

    id = AutoField()
    channel = ForeignKeyField(Channel, backref="videos", on_delete="CASCADE")
    external_id = CharField(max_length=256)
    title = TextField(default="")
    url = CharField(max_length=2048)
    published_at = DoubleField(null=True)
    discovered_at = DoubleField()
    # True for back-catalog videos: referenced, never announced or auto-downloaded.
    backfill = BooleanField(default=False)
    # One of poller.kinds.MEDIA_TYPES; rows from before the column are videos.
    media_type = CharField(max_length=16, default=VIDEO)
    # When an upcoming premiere or stream starts (NULL: unknown or not upcoming). A pending
    # download waits for it: the sweep does not re-send it before then.
    available_at = DoubleField(null=True)
    download_status = CharField(max_length=16, default=NOT_WANTED, index=True)
    download_path = TextField(null=True)
    download_error = TextField(null=True)
    download_attempts = IntegerField(default=0)
    updated_at = DoubleField()
    channel_id: int

    class Meta:
        indexes = ((("channel", "external_id"), True), (("channel", "published_at"), False))


class UserVideoRef(BaseModel):
    """A subscriber's reference to a video: their feed."""

    id = AutoField()
    user = ForeignKeyField(User, backref="refs", on_delete="CASCADE")
    video = ForeignKeyField(Video, backref="refs", on_delete="CASCADE")
    created_at = DoubleField()
    user_id: int
    video_id: int

    class Meta:
        indexes = ((("user", "video"), True),)


class Event(BaseModel):
    """Something a user is told about; `dedup_key` makes writing it idempotent."""

    id = AutoField()
    user = ForeignKeyField(User, backref="events", on_delete="CASCADE")
    kind = CharField(max_length=32)
    channel = ForeignKeyField(Channel, null=True, on_delete="CASCADE")
    video = ForeignKeyField(Video, null=True, on_delete="CASCADE")
    dedup_key = CharField(max_length=128, unique=True)
    payload = TextField(default="{}")
    created_at = DoubleField()
    user_id: int
    channel_id: int | None
    video_id: int | None

    class Meta:
        indexes = ((("user", "id"), False),)


class PollRecord(BaseModel):
    """One poll of a channel, for its history; only the last POLL_HISTORY are kept.

    `seq` numbers a channel's polls 1, 2, …; it is what pruning goes by.
    """

    id = AutoField()
    channel = ForeignKeyField(Channel, backref="poll_records", on_delete="CASCADE")
    seq = IntegerField()
    polled_at = DoubleField()
    outcome = CharField(max_length=16)
    http_status = IntegerField(null=True)
    duration_s = DoubleField()
    new_videos = IntegerField(default=0)
    backfill = IntegerField(default=0)
    error = TextField(null=True)
    channel_id: int

    class Meta:
        indexes = ((("channel", "seq"), True),)


POLL_HISTORY = 50  # polls kept per channel (a few more until the next prune)


class PushSubscription(BaseModel):
    """A channel's WebSub subscription at its hub (rules in poller/websub.py).

    `token` names the callback (``/websub/<token>``) and `secret` signs the
    hub's pushes; both are random and this row's own. `state` is what the hub
    last verified; `requested_mode` is the request it may still verify (NULL:
    none, so any verification is refused). `due_at` is when the next request
    to the hub goes (subscribe, renew, retry, unsubscribe), on an index: the
    tick's due-check. `healthy` is True once a push announced an upload a poll
    then found, False again when a poll finds one no push announced.
    """

    id = AutoField()
    channel = ForeignKeyField(Channel, unique=True, on_delete="CASCADE")
    hub = CharField(max_length=2048)
    topic = CharField(max_length=2048)
    token = CharField(max_length=64, unique=True)
    secret = CharField(max_length=64)
    state = CharField(max_length=16, default="pending")
    requested_mode = CharField(max_length=16, null=True)
    requested_at = DoubleField(null=True)
    lease_until = DoubleField(null=True)
    due_at = DoubleField(null=True, index=True)
    attempts = IntegerField(default=0)
    last_error = TextField(null=True)
    last_error_at = DoubleField(null=True)
    healthy = BooleanField(default=False)
    pushes = IntegerField(default=0)
    dropped = IntegerField(default=0)  # pushes refused: a bad or missing signature
    last_push_at = DoubleField(null=True)
    pending_push_at = DoubleField(null=True)  # the first push no poll has followed yet
    created_at = DoubleField()
    channel_id: int


class NotificationTarget(BaseModel):
    """Where one user is told about events: an Apprise URL and the events it wants."""

    id = AutoField()
    user = ForeignKeyField(User, backref="notification_targets", on_delete="CASCADE")
    url = TextField()  # as given, secrets included: never shown, see notices.masked_url
    events = TextField(default="[]")  # JSON list of event kinds, poller.notices.EVENTS
    created_at = DoubleField()
    user_id: int


class Delivery(BaseModel):
    """One event's notification to one target: a message of the `notify` queue.

    Unique per (target, event), so queuing it again changes nothing; a test
    message has no event. `claimed_until` keeps two deliveries of one row from
    sending at once (a message re-sent by the sweep beside its late original).
    """

    id = AutoField()
    target = ForeignKeyField(NotificationTarget, backref="deliveries", on_delete="CASCADE")
    event = ForeignKeyField(Event, null=True, on_delete="CASCADE")
    kind = CharField(max_length=32)
    status = CharField(max_length=16, default=DELIVERY_PENDING)
    attempts = IntegerField(default=0)
    reason = TextField(null=True)
    created_at = DoubleField()
    updated_at = DoubleField()
    sent_at = DoubleField(null=True)
    claimed_until = DoubleField(default=0)
    target_id: int
    event_id: int | None

    class Meta:
        indexes = (
            (("target", "event"), True),
            (("target", "id"), False),
            (("status", "updated_at"), False),
        )


TABLES = [
    User,
    Host,
    Channel,
    Subscription,
    Video,
    UserVideoRef,
    Event,
    PollRecord,
    PushSubscription,
    NotificationTarget,
    Delivery,
]
