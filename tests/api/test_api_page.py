"""The status page at /: sign-in, CSRF, each form, one user's channels only, escaping."""

from __future__ import annotations

import multiprocessing
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import falcon.testing
import pytest
from dramatiq import Worker

from api.resources.page import web_link
from api.routes import ROUTES
from api.session import SESSION_MAX_AGE_S, Signer, load_or_make_key
from poller import host_store, subscriptions
from poller.broker import DOWNLOAD_QUEUE
from poller.models import Channel, User
from tests.api.support import Caller, Feed, queued

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Browser:
    """A browser without JavaScript: keeps the cookies it is given, posts HTML forms."""

    def __init__(self, client: falcon.testing.TestClient) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}
        self.last: falcon.testing.Result | None = None

    def request(self, method: str, path: str, **kwargs: Any) -> falcon.testing.Result:
        result = self.client.simulate_request(method, path, cookies=self.cookies, **kwargs)
        for name, cookie in result.cookies.items():
            if cookie.value and (cookie.max_age is None or cookie.max_age > 0):
                self.cookies[name] = cookie.value
            else:
                self.cookies.pop(name, None)
        self.last = result
        return result

    def page(self) -> str:
        result = self.request("GET", "/")
        assert result.status_code == 200
        assert result.headers["content-type"].startswith("text/html")
        return result.text

    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.page())
        assert found, "no CSRF field on the page"
        return found.group(1)

    def post(self, path: str, csrf: str | None = "page", **fields: str) -> falcon.testing.Result:
        """Post a form, with the page's CSRF token unless `csrf` says otherwise."""
        if csrf == "page":
            csrf = self.csrf()
        body = {**fields, **({} if csrf is None else {"csrf": csrf})}
        return self.request("POST", path, headers=FORM, body=urlencode(body))

    def sign_in(self, token: str) -> falcon.testing.Result:
        return self.post("/signin", token=token)


@pytest.fixture
def browser(client: falcon.testing.TestClient) -> Browser:
    return Browser(client)


def signed_in(browser: Browser, caller: Caller) -> Browser:
    answer = browser.sign_in(caller.token)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/"
    return browser


def test_a_visitor_sees_the_sign_in_form_and_nothing_else(
    browser: Browser, alice: Caller, feed: Feed
) -> None:
    alice.subscribe(feed.url)
    text = browser.page()

    assert '<form class="signin" method="post" action="/signin">' in text
    assert 'name="token"' in text
    assert feed.url not in text and "Channels" not in text


def test_signing_in_sets_a_strict_http_only_session_cookie(browser: Browser, alice: Caller) -> None:
    answer = browser.sign_in(alice.token)

    assert answer.status_code == 303
    cookie = answer.cookies["tubepoller_session"]
    assert cookie.http_only and cookie.same_site == "Strict" and cookie.path == "/"
    assert not cookie.secure  # plain http: a Secure cookie would never come back
    assert alice.token not in cookie.value  # the session is not the token
    assert 'Signed in as <strong id="user">alice</strong>' in browser.page()


def test_the_cookie_is_secure_when_the_request_is_https(client, alice: Caller) -> None:
    browser = Browser(client)
    first = browser.request("GET", "/", protocol="https")
    nonce = re.search(r'name="csrf" value="([^"]+)"', first.text).group(1)

    answer = browser.request(
        "POST", "/signin", protocol="https", headers=FORM,
        body=urlencode({"token": alice.token, "csrf": nonce}),
    )  # fmt: skip

    assert answer.cookies["tubepoller_session"].secure


def test_a_wrong_token_signs_nobody_in(browser: Browser, alice: Caller) -> None:
    answer = browser.sign_in("not-" + alice.token)

    assert answer.status_code == 303
    assert "tubepoller_session" not in browser.cookies
    text = browser.page()
    assert "That token is not valid." in text
    assert 'name="token"' in text


@pytest.mark.parametrize("csrf", [None, "", "forged"])
def test_sign_in_without_the_forms_nonce_is_refused(
    browser: Browser, alice: Caller, csrf: str | None
) -> None:
    browser.page()  # the form's cookie is set; the form's field is not sent

    answer = browser.post("/signin", csrf=csrf, token=alice.token)

    assert answer.status_code == 403
    assert "tubepoller_session" not in browser.cookies


# Every form of the signed-in page, with the id of alice's channel or video in it.
FORMS = [
    route.template
    for route in ROUTES
    if route.methods == ("POST",) and route.template.startswith(("/page/", "/signout"))
]


@pytest.mark.parametrize("path", FORMS)
@pytest.mark.parametrize("csrf", [None, "", "forged"])
def test_a_form_without_the_sessions_csrf_token_is_refused(
    browser: Browser,
    alice: Caller,
    feed: Feed,
    broker: Any,
    poll_worker: Worker,
    csrf: str | None,
    path: str,
) -> None:
    channel_id = alice.subscribe(feed.url)
    broker.join("poll")
    video_id = alice.get("/api/videos").json["items"][0]["id"]
    signed_in(browser, alice)
    before = browser.page().replace(browser.csrf(), "")
    path = path.replace("{channel_id:id}", str(channel_id)).replace("{video_id:id}", str(video_id))

    answer = browser.post(path, csrf=csrf, url=feed.url + "?2", mode="future_only")

    assert answer.status_code == 403
    assert browser.page().replace(browser.csrf(), "") == before  # nothing changed, still in
    assert queued(broker) == [] and queued(broker, DOWNLOAD_QUEUE) == []


def test_another_sessions_csrf_token_is_refused(client, alice: Caller, bob: Caller) -> None:
    bobs = signed_in(Browser(client), bob).csrf()
    alices = signed_in(Browser(client), alice)

    assert alices.post("/page/channels", csrf=bobs, url="https://example.org/f").status_code == 403


def test_a_form_without_a_session_goes_back_to_the_sign_in_form(browser: Browser) -> None:
    answer = browser.post("/page/channels", csrf="x", url="https://example.org/f")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/"


def test_the_api_does_not_take_the_cookie(browser: Browser, alice: Caller) -> None:
    signed_in(browser, alice)

    assert browser.request("GET", "/api/channels").status_code == 401
    answer = browser.request("POST", "/api/channels", json={"url": "https://example.org/f"})
    assert answer.status_code == 401


def test_the_page_does_not_take_a_bearer_token(alice: Caller) -> None:
    assert 'name="token"' in alice.get("/").text
    assert alice.post("/page/channels", headers=FORM, body="url=x").status_code == 303


def test_signing_out_ends_the_session(browser: Browser, alice: Caller) -> None:
    signed_in(browser, alice)
    kept = dict(browser.cookies)

    assert browser.post("/signout").status_code == 303
    assert "tubepoller_session" not in browser.cookies
    assert 'name="token"' in browser.page()
    del kept  # a copied cookie lives until its user's token changes (next test)


def test_rotating_the_token_ends_its_sessions(browser: Browser, alice: Caller) -> None:
    signed_in(browser, alice)
    User.update(token_hash=subscriptions.hash_token("new")).where(
        User.id == alice.user.id
    ).execute()

    assert 'name="token"' in browser.page()


def test_subscribe_poll_now_and_see_the_videos(
    browser: Browser, alice: Caller, feed: Feed, broker: Any, poll_worker: Worker
) -> None:
    signed_in(browser, alice)

    answer = browser.post("/page/channels", url=feed.url, mode="catalog_only")
    assert answer.status_code == 303
    assert "Subscribed to" in browser.page()
    broker.join("poll")
    (channel,) = alice.get("/api/channels").json["items"]
    assert channel["mode"] == "catalog_only"

    feed.add("ep3", "A fourth episode")
    assert browser.post(f"/page/channels/{channel['id']}/poll").status_code == 303
    assert f"A poll of channel {channel['id']} is queued." in browser.page()
    broker.join("poll")

    text = browser.page()
    assert f'id="channel-{channel["id"]}"' in text
    for title in ("Episode ep0", "Episode ep1", "Episode ep2", "A fourth episode"):
        assert title in text


def test_change_mode_and_unsubscribe(browser: Browser, alice: Caller, feed: Feed) -> None:
    channel_id = alice.subscribe(feed.url, mode="catalog_only")
    signed_in(browser, alice)

    assert browser.post(f"/page/channels/{channel_id}/mode", mode="future_only").status_code == 303
    assert alice.get(f"/api/channels/{channel_id}").json["mode"] == "future_only"
    browser.post(f"/page/channels/{channel_id}/mode", mode="everything")
    assert "the modes are" in browser.page()
    assert alice.get(f"/api/channels/{channel_id}").json["mode"] == "future_only"

    assert browser.post(f"/page/channels/{channel_id}/unsubscribe").status_code == 303
    assert alice.get("/api/channels").json["items"] == []
    assert f'id="channel-{channel_id}"' not in browser.page()


def test_a_bad_url_is_told_on_the_page(browser: Browser, alice: Caller) -> None:
    signed_in(browser, alice)

    assert browser.post("/page/channels", url="ftp://example.org/x").status_code == 303

    assert 'class="notice error"' in browser.page()
    assert alice.get("/api/channels").json["items"] == []


def test_download_a_video_from_the_page(
    browser: Browser, alice: Caller, feed: Feed, broker: Any, poll_worker: Worker
) -> None:
    alice.subscribe(feed.url)
    broker.join("poll")
    video_id = alice.get("/api/videos").json["items"][0]["id"]
    signed_in(browser, alice)
    assert f'action="/page/videos/{video_id}/download"' in browser.page()

    assert browser.post(f"/page/videos/{video_id}/download").status_code == 303

    assert f"The download of video {video_id} is queued." in browser.page()
    assert queued(broker, DOWNLOAD_QUEUE) == [(video_id,)]
    assert alice.get("/api/videos").json["items"][0]["download_status"] == "pending"
    browser.post(f"/page/videos/{video_id}/download")
    assert "already waiting" in browser.page()
    assert len(queued(broker, DOWNLOAD_QUEUE)) == 1


def test_another_users_channels_appear_nowhere_and_cannot_be_touched(
    client, alice: Caller, bob: Caller, feed: Feed, broker: Any, poll_worker: Worker
) -> None:
    bobs = bob.subscribe(feed.url)
    broker.join("poll")
    bobs_video = bob.get("/api/videos").json["items"][0]["id"]
    browser = signed_in(Browser(client), alice)

    text = browser.page()
    assert feed.url not in text and "Episode ep0" not in text
    for path in (
        f"/page/channels/{bobs}/poll",
        f"/page/channels/{bobs}/unsubscribe",
        f"/page/videos/{bobs_video}/download",
    ):
        assert browser.post(path).status_code == 303
        assert 'class="notice error"' in browser.page(), path
    browser.post(f"/page/channels/{bobs}/mode", mode="future_only")
    assert [c["id"] for c in bob.get("/api/channels").json["items"]] == [bobs]
    assert bob.get(f"/api/channels/{bobs}").json["mode"] == "catalog_only"
    assert queued(broker, DOWNLOAD_QUEUE) == []


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_hostile_titles_and_errors_are_escaped(
    browser: Browser, alice: Caller, feed: Feed, broker: Any, poll_worker: Worker
) -> None:
    feed.add("evil", HOSTILE)
    channel_id = alice.subscribe(feed.url)
    broker.join("poll")
    Channel.update(title=HOSTILE, last_error=HOSTILE, warning=HOSTILE).where(
        Channel.id == channel_id
    ).execute()
    signed_in(browser, alice)

    text = browser.page()

    assert "<script>" not in text and "<img" not in text
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
    assert text.count(escaped) >= 5  # the video, its channel twice, the error, the warning


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://www.youtube.com/watch?v=x", "https://www.youtube.com/watch?v=x"),
        ("HTTP://example.org/", "HTTP://example.org/"),
        ("javascript:alert(1)", None),
        (" javascript:alert(1)", None),
        ("data:text/html,<b>", None),
        (None, None),
    ],
)
def test_only_web_links_are_links(url: str | None, link: str | None) -> None:
    assert web_link(url) == link


def _key_of(data_dir: str) -> bytes:
    return load_or_make_key(Path(data_dir) / "session.key")


def test_processes_that_start_together_agree_on_one_session_key(tmp_path: Path) -> None:
    # gunicorn's workers make the key on their first page at the same time.
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        keys = pool.map(_key_of, [str(tmp_path)] * 8)

    assert len(set(keys)) == 1 and len(keys[0]) == 32
    assert (tmp_path / "session.key").stat().st_mode & 0o077 == 0
    assert [p.name for p in tmp_path.iterdir()] == ["session.key"]  # no temporary left
    first, second = Signer(tmp_path), Signer(tmp_path)
    _, cookie = first.new_session(7, "hash", 1000.0)
    assert second.session(cookie, 1001.0) is not None
    assert Signer(tmp_path / "elsewhere").session(cookie, 1001.0) is None


def test_a_session_expires_and_a_tampered_one_is_refused(tmp_path: Path) -> None:
    signer = Signer(tmp_path)
    _, cookie = signer.new_session(7, "hash", 1000.0)
    body, _, mac = cookie.partition(".")

    assert signer.session(cookie, 1000.0 + SESSION_MAX_AGE_S + 1) is None
    assert signer.session(f"{body}x.{mac}", 1001.0) is None
    assert signer.session(cookie.replace(".", ".x", 1), 1001.0) is None
    assert signer.unsign("notice", cookie) is None  # signed for another purpose


def test_two_sign_in_forms_of_one_browser_both_work(browser: Browser, alice: Caller) -> None:
    first = browser.csrf()
    assert browser.csrf() == first  # the second tab

    assert browser.post("/signin", csrf=first, token=alice.token).status_code == 303
    assert "tubepoller_session" in browser.cookies


def test_the_page_shows_paused_hosts_and_queue_depths(
    browser: Browser, alice: Caller, feed: Feed, broker: Any
) -> None:
    host_store.pause("www.youtube.com", time.time(), "bot_check: Sign in to confirm", base=900)
    alice.subscribe(feed.url)  # its first poll waits on the queue: no worker runs
    signed_in(browser, alice)

    text = browser.page()

    fleet = text[text.index('<section id="fleet">') :]
    assert "<td>www.youtube.com</td><td>paused</td>" in fleet
    assert "bot_check: Sign in to confirm" in fleet
    assert "<tr><td>poll</td><td>1</td></tr>" in fleet
