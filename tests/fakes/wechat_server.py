"""An in-process fake of WeChat's side of an Official Account, speaking the real protocol on loopback.

WeChat's two roles, both over HTTP:

* it *calls* the account's server: each thing a user does (``user_text``, ``user_location``,
  ``user_image``, ``user_subscribe``, ``user_click``, ``user_menu_choice``) becomes the XML
  WeChat would POST to the webhook, signed with the token, and in safe mode (an EncodingAESKey
  given) encrypted with AES-256-CBC and signed with ``msg_signature``. The call returns once the
  webhook has answered, with its status and body.
* it *serves* the API: ``GET /cgi-bin/token`` issues access tokens (with an expiry; see
  ``expire_tokens``); ``POST /cgi-bin/message/custom/send`` checks the token and the message
  and records what each OpenID received (``sent_to``, ``wait_for_messages``);
  ``POST /cgi-bin/message/template/send`` sends a template message of a template the account
  has (``add_template``), recorded in ``templates_to``; ``POST /cgi-bin/menu/create`` checks
  and records the custom menu (``menu``).

The encryption here is written independently of Jingtu's, from WeChat's description, so the two
check each other. Fidelity notes, where the fake copies behaviour code may trip over:

* The customer-service window: a message to someone who has not interacted (written, followed,
  tapped) in the last 48 hours — by the fake's clock, the tests' clock — is refused with 45015;
  ``close_window`` forgets an interaction. ``reply_quota`` (5, as WeChat's "5 messages per user
  message" rule; None turns it off) caps the messages per interaction (45047).
* ``account="subscription"``: a subscription (or test) account, whose msgmenu messages WeChat
  refuses with 40200.
* Template messages are not bound to the window. Unknown template id → 40037; data that is not
  ``{field: {"value": text}}`` over the template's own fields, or a ``thing`` value over 20
  characters → 47003; an unfollowed user → 43004.
* menu/create: over 3 buttons or 5 sub-buttons → 40016/40023, a name over 16 (sub: 60) bytes →
  40018/40019-style refusals as WeChat numbers them, an unknown type → 40017.
* Unknown or expired access tokens → 40001 / 42001; ``block`` (the user unfollowed) → 43004;
  text over 2,048 bytes → 45002; a msgmenu with no items, over 10 items, an empty id or content,
  or a head over 1,024 bytes → 47001; JSON sent with ``\\u`` escapes is accepted (as WeChat
  does) but recorded decoded.
* Faults: ``fail_next(errcode=…, times=…)`` answers the next sends with that error code (or,
  with ``http_status``, with a bare HTTP error).
* Temporary media: what users send (``user_image`` registers its bytes) and what the account
  uploads (``POST /cgi-bin/media/upload``, multipart field ``media``; recorded in ``uploads``)
  lives three days by the fake's clock, or until ``expire_media``. ``GET /cgi-bin/media/get``
  answers the bytes, or JSON errcode 40007 for an unknown or expired media_id, as does an image
  message naming one.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import os
import secrets
import struct
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Self
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

JSONDict = dict[str, Any]

DEFAULT_TOKEN = "jingtu-test-token"
DEFAULT_APP_ID = "wx5ce1f1e4a8b2c3d4"
DEFAULT_APP_SECRET = "0123456789abcdef0123456789abcdef"
DEFAULT_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
ACCOUNT = "gh_3f5e8a9b1c2d"
WINDOW = timedelta(hours=48)
MEDIA_LIFETIME = timedelta(days=3)
# A tiny stand-in for a photo's contents (JPEG start/end markers around filler).
FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00fake-wechat-photo\xff\xd9"
# An AMR-NB recording as WeChat stores voice messages: the "#!AMR\n" magic, then frames.
FAKE_AMR = b"#!AMR\n" + bytes(range(32)) * 4


class WebhookAnswer(NamedTuple):
    """What the webhook answered: compares equal to a (status, text) tuple."""

    status: int
    text: str


@dataclass(frozen=True)
class _Fault:
    errcode: int
    errmsg: str
    http_status: int


def wechat_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def to_xml(fields: dict[str, str | int | float]) -> str:
    """WeChat's flat message XML: strings in CDATA, numbers bare."""
    parts = ["<xml>"]
    for key, value in fields.items():
        text = _cdata(value) if isinstance(value, str) else str(value)
        parts.append(f"<{key}>{text}</{key}>")
    parts.append("</xml>")
    return "".join(parts)


class FakeWeChat:
    """WeChat's servers, for one Official Account. Start it, then ``connect`` the webhook URL."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        app_id: str = DEFAULT_APP_ID,
        app_secret: str = DEFAULT_APP_SECRET,
        aes_key: str = "",
        clock: Callable[[], datetime] | None = None,
        token_lifetime: int = 7200,
        reply_quota: int | None = 5,
        account: str = "service",
    ) -> None:
        self.token = token
        self.app_id = app_id
        self.app_secret = app_secret
        self.aes_key = aes_key
        self.clock = clock or (lambda: datetime.now(UTC))
        self.token_lifetime = token_lifetime
        self.reply_quota = reply_quota
        self.account = account
        self.menu: JSONDict | None = None  # the custom menu last created
        self._templates: dict[str, tuple[str, ...]] = {}  # template id → its field names
        self._templates_sent: dict[str, list[JSONDict]] = defaultdict(list)
        self.webhook_url: str | None = None
        self.tokens_issued = 0
        self.token_requests: list[JSONDict] = []  # the query of each /cgi-bin/token call
        self.errors: list[tuple[str, int]] = []  # (openid, errcode) of each refused send
        self.webhook_answers: list[WebhookAnswer] = []
        self.port = 0
        self._tokens: dict[str, datetime] = {}  # access token → expiry
        self._sent: dict[str, list[JSONDict]] = defaultdict(list)
        self._last_interaction: dict[str, datetime] = {}
        self._since_interaction: dict[str, int] = defaultdict(int)
        self._blocked: set[str] = set()
        self._faults: deque[_Fault] = deque()
        self._last_posted: dict[str, str] = {}  # openid → the plaintext XML last delivered
        self._msg_ids = itertools.count(24_000_000_000_000_001)
        self._media: dict[str, tuple[bytes, datetime]] = {}  # media_id → (bytes, expiry)
        self.uploads: list[tuple[str, bytes]] = []  # (media_id, bytes) of each upload
        self.media_gets: list[str] = []  # the media_id of each media/get call
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token_endpoint)
        app.router.add_post("/cgi-bin/message/custom/send", self._custom_send)
        app.router.add_get("/cgi-bin/media/get", self._media_get)
        app.router.add_post("/cgi-bin/media/upload", self._media_upload)
        app.router.add_post("/cgi-bin/message/template/send", self._template_send)
        app.router.add_post("/cgi-bin/menu/create", self._menu_create)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What Jingtu's WECHAT_API_BASE_URL should be."""
        return f"http://127.0.0.1:{self.port}"

    def connect(self, webhook_url: str) -> None:
        """The server URL configured in the Official Account admin."""
        self.webhook_url = webhook_url

    # ------------------------------------------------------------------ what users do

    def openid_fields(self, openid: str, msg_type: str, **fields: str | int | float) -> JSONDict:
        return {
            "ToUserName": ACCOUNT,
            "FromUserName": openid,
            "CreateTime": int(self.clock().timestamp()),
            "MsgType": msg_type,
            **fields,
        }

    def _message(self, openid: str, msg_type: str, **fields: str | int | float) -> str:
        return to_xml(self.openid_fields(openid, msg_type, **fields, MsgId=next(self._msg_ids)))

    async def user_text(self, openid: str, text: str) -> WebhookAnswer:
        return await self.deliver(openid, self._message(openid, "text", Content=text))

    async def user_location(
        self, openid: str, lat: float, lon: float, *, label: str = ""
    ) -> WebhookAnswer:
        """A location message; WeChat's coordinates are GCJ-02 (X = latitude, Y = longitude)."""
        xml = self._message(
            openid,
            "location",
            Location_X=round(lat, 6),
            Location_Y=round(lon, 6),
            Scale=15,
            Label=label,
        )
        return await self.deliver(openid, xml)

    async def user_image(
        self, openid: str, media_id: str | None = None, *, content: bytes = FAKE_JPEG
    ) -> WebhookAnswer:
        """An image message; its MediaId serves `content` for three days (media/get)."""
        media_id = media_id or f"media-{secrets.token_hex(8)}"
        self.add_media(media_id, content)
        pic_url = f"http://mmbiz.qpic.cn/mmbiz_jpg/{media_id}/0"
        xml = self._message(openid, "image", PicUrl=pic_url, MediaId=media_id)
        return await self.deliver(openid, xml)

    async def user_menu_choice(self, openid: str, menu_id: str, content: str) -> WebhookAnswer:
        """A tap on a msgmenu item: a text message carrying the item's id in bizmsgmenuid."""
        xml = self._message(openid, "text", Content=content, bizmsgmenuid=menu_id)
        return await self.deliver(openid, xml)

    async def user_voice(
        self, openid: str, media_id: str, *, recognition: str | None = None
    ) -> WebhookAnswer:
        """A voice message; with speech recognition on, WeChat adds the words (Recognition).
        Its MediaId serves an AMR recording for three days (media/get)."""
        self.add_media(media_id, FAKE_AMR)
        fields: dict[str, str | int | float] = {"MediaId": media_id, "Format": "amr"}
        if recognition is not None:
            fields["Recognition"] = recognition
        return await self.deliver(openid, self._message(openid, "voice", **fields))

    async def user_subscribe(self, openid: str, *, scene: str | None = None) -> WebhookAnswer:
        fields: JSONDict = self.openid_fields(openid, "event", Event="subscribe")
        if scene is not None:
            fields["EventKey"] = f"qrscene_{scene}"
        return await self.deliver(openid, to_xml(fields))

    async def user_click(self, openid: str, key: str) -> WebhookAnswer:
        xml = to_xml(self.openid_fields(openid, "event", Event="CLICK", EventKey=key))
        return await self.deliver(openid, xml)

    async def redeliver_last(self, openid: str) -> WebhookAnswer:
        """WeChat retries a message it got no timely answer for: the same message, signed anew."""
        return await self.deliver(openid, self._last_posted[openid])

    def signed_request(
        self, xml: str | bytes, *, timestamp: int | None = None, nonce: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """The query and body WeChat would POST for this plaintext message XML (bytes are sent
        as they are, for tests that send what WeChat would not)."""
        ts = str(int(self.clock().timestamp()) if timestamp is None else timestamp)
        nonce = nonce or str(secrets.randbelow(10**10))
        query = {
            "signature": wechat_signature(self.token, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
        }
        if not self.aes_key:
            return query, xml.encode() if isinstance(xml, str) else xml
        encrypted = self.encrypt(xml)
        query["encrypt_type"] = "aes"
        query["msg_signature"] = wechat_signature(self.token, ts, nonce, encrypted)
        body = to_xml({"ToUserName": ACCOUNT, "Encrypt": encrypted})
        return query, body.encode()

    async def deliver(self, openid: str, xml: str) -> WebhookAnswer:
        """POST one message to the webhook as WeChat does; the user has interacted."""
        self._last_posted[openid] = xml
        query, body = self.signed_request(xml)
        query["openid"] = openid
        return await self.post(query, body)

    async def post(self, query: dict[str, str], body: bytes) -> WebhookAnswer:
        """A raw POST to the webhook (tests use it to send forged or broken requests).

        WeChat names the user in the ``openid`` parameter; their 48-hour window opens now.
        """
        if self.webhook_url is None or self._http is None:
            raise RuntimeError("FakeWeChat is not started or has no webhook URL")
        if openid := query.get("openid"):
            self._last_interaction[openid] = self.clock()
            self._since_interaction[openid] = 0
        url = f"{self.webhook_url}?{urlencode(query)}"
        headers = {"Content-Type": "text/xml"}
        async with self._http.post(url, data=body, headers=headers) as response:
            answer = WebhookAnswer(response.status, await response.text())
        self.webhook_answers.append(answer)
        return answer

    async def verify_server(self, echostr: str, **overrides: str) -> WebhookAnswer:
        """The GET WeChat sends when the server URL is saved in the admin."""
        if self.webhook_url is None or self._http is None:
            raise RuntimeError("FakeWeChat is not started or has no webhook URL")
        ts = str(int(self.clock().timestamp()))
        nonce = str(secrets.randbelow(10**10))
        query = {
            "signature": wechat_signature(self.token, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "echostr": echostr,
            **overrides,
        }
        async with self._http.get(f"{self.webhook_url}?{urlencode(query)}") as response:
            return WebhookAnswer(response.status, await response.text())

    # ------------------------------------------------------------------ safe-mode encryption

    def _aes(self) -> Cipher[modes.CBC]:
        key = base64.b64decode(self.aes_key + "=")
        return Cipher(algorithms.AES(key), modes.CBC(key[:16]))

    def encrypt(self, xml: str | bytes, *, app_id: str | None = None) -> str:
        """16 random bytes, 4-byte length, message, AppID; PKCS#7 to 32 bytes; AES-256-CBC."""
        message = xml.encode() if isinstance(xml, str) else xml
        plain = (
            os.urandom(16)
            + struct.pack(">I", len(message))
            + message
            + (app_id or self.app_id).encode()
        )
        pad = 32 - len(plain) % 32
        plain += bytes([pad]) * pad
        encryptor = self._aes().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    # ------------------------------------------------------------------ the API

    async def _token_endpoint(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.token_requests.append(query)
        if query.get("grant_type") != "client_credential":
            return web.json_response({"errcode": 40002, "errmsg": "invalid grant_type"})
        if query.get("appid") != self.app_id:
            return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
        if query.get("secret") != self.app_secret:
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        token = secrets.token_urlsafe(48)
        self._tokens[token] = self.clock() + timedelta(seconds=self.token_lifetime)
        self.tokens_issued += 1
        return web.json_response({"access_token": token, "expires_in": self.token_lifetime})

    @property
    def issued_tokens(self) -> list[str]:
        return list(self._tokens)

    def expire_tokens(self) -> None:
        """Every access token issued so far is now expired (WeChat answers 42001)."""
        past = self.clock() - timedelta(seconds=1)
        for token in self._tokens:
            self._tokens[token] = past

    async def _authorized_body(self, request: web.Request) -> JSONDict | web.Response:
        """The request's JSON object, or the error WeChat answers for its token or body."""
        token = request.query.get("access_token", "")
        expiry = self._tokens.get(token)
        if expiry is None:
            return self._error("", 40001, "invalid credential, access_token is invalid")
        if self.clock() >= expiry:
            return self._error("", 42001, "access_token expired")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return self._error("", 47001, "data format error")
        if not isinstance(body, dict):
            return self._error("", 47001, "data format error")
        return body

    async def _custom_send(self, request: web.Request) -> web.Response:
        body = await self._authorized_body(request)
        if isinstance(body, web.Response):
            return body
        openid = str(body.get("touser", ""))
        if self._faults:
            fault = self._faults.popleft()
            if fault.http_status != 200:
                self.errors.append((openid, fault.http_status))
                return web.Response(status=fault.http_status, text="upstream error")
            return self._error(openid, fault.errcode, fault.errmsg)
        if openid in self._blocked:
            return self._error(openid, 43004, "require subscribe")
        last = self._last_interaction.get(openid)
        if last is None or self.clock() - last > WINDOW:
            return self._error(
                openid, 45015, "response out of time limit or subscription is canceled"
            )
        if self.reply_quota is not None and self._since_interaction[openid] >= self.reply_quota:
            return self._error(openid, 45047, "out of response count limit")
        if body.get("msgtype") == "msgmenu" and self.account == "subscription":
            return self._error(openid, 40200, "invalid account type")
        problem = _message_problem(body)
        image = body.get("image") if body.get("msgtype") == "image" else None
        if problem is None and image is not None and not self._media_valid(image["media_id"]):
            problem = (40007, "invalid media_id")
        if problem is not None:
            return self._error(openid, *problem)
        self._since_interaction[openid] += 1
        async with self._changed:
            self._sent[openid].append(body)
            self._changed.notify_all()
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def _token_problem(self, request: web.Request) -> web.Response | None:
        expiry = self._tokens.get(request.query.get("access_token", ""))
        if expiry is None:
            return self._error("", 40001, "invalid credential, access_token is invalid")
        if self.clock() >= expiry:
            return self._error("", 42001, "access_token expired")
        return None

    def _media_valid(self, media_id: object) -> bool:
        entry = self._media.get(media_id) if isinstance(media_id, str) else None
        return entry is not None and self.clock() < entry[1]

    async def _media_get(self, request: web.Request) -> web.Response:
        if (problem := self._token_problem(request)) is not None:
            return problem
        media_id = request.query.get("media_id", "")
        self.media_gets.append(media_id)
        if not self._media_valid(media_id):
            return self._error("", 40007, "invalid media_id")
        content = self._media[media_id][0]
        return web.Response(
            body=content,
            content_type="image/jpeg",
            headers={"Content-disposition": f'attachment; filename="{media_id}.jpg"'},
        )

    async def _media_upload(self, request: web.Request) -> web.Response:
        if (problem := self._token_problem(request)) is not None:
            return problem
        if request.query.get("type") not in ("image", "voice", "video", "thumb"):
            return self._error("", 40004, "invalid media type")
        form = await request.post()
        field = form.get("media")
        if not isinstance(field, web.FileField):
            return self._error("", 41005, "media data missing")
        content = field.file.read()
        if not content:
            return self._error("", 41005, "media data missing")
        if len(content) > 10 * 1024 * 1024:
            return self._error("", 40009, "invalid image size")
        media_id = f"upload-{secrets.token_hex(12)}"
        self.add_media(media_id, content)
        self.uploads.append((media_id, content))
        return web.json_response(
            {
                "type": request.query["type"],
                "media_id": media_id,
                "created_at": int(self.clock().timestamp()),
            }
        )

    async def _template_send(self, request: web.Request) -> web.Response:
        body = await self._authorized_body(request)
        if isinstance(body, web.Response):
            return body
        openid = str(body.get("touser", ""))
        if not openid:
            return self._error(openid, 40003, "invalid openid")
        if openid in self._blocked:
            return self._error(openid, 43004, "require subscribe")
        fields = self._templates.get(str(body.get("template_id", "")))
        if fields is None:
            return self._error(openid, 40037, "invalid template_id")
        if not _template_data_fits(body.get("data"), fields):
            return self._error(openid, 47003, "argument invalid! data.value invalid")
        msg_id = next(self._msg_ids)
        async with self._changed:
            self._templates_sent[openid].append(body)
            self._changed.notify_all()
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": msg_id})

    async def _menu_create(self, request: web.Request) -> web.Response:
        body = await self._authorized_body(request)
        if isinstance(body, web.Response):
            return body
        problem = _menu_problem(body)
        if problem is not None:
            return self._error("", *problem)
        self.menu = body
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def _error(self, openid: str, errcode: int, errmsg: str) -> web.Response:
        self.errors.append((openid, errcode))
        return web.json_response({"errcode": errcode, "errmsg": f"{errmsg} rid: fake"})

    # ------------------------------------------------------------------ test controls

    def sent_to(self, openid: str) -> list[JSONDict]:
        """The customer-service messages this OpenID received, in order."""
        return list(self._sent.get(openid, []))

    async def wait_for_messages(self, openid: str, count: int, timeout: float = 5.0) -> None:
        """Until the OpenID has received at least `count` messages in all."""

        async def reached() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self._sent.get(openid, [])) >= count)

        await asyncio.wait_for(reached(), timeout)

    def fail_next(
        self,
        *,
        errcode: int = -1,
        errmsg: str = "system error",
        times: int = 1,
        http_status: int = 200,
    ) -> None:
        for _ in range(times):
            self._faults.append(_Fault(errcode, errmsg, http_status))

    def add_template(self, template_id: str, fields: tuple[str, ...]) -> None:
        """A template the account picked from the library, with its fields' names."""
        self._templates[template_id] = fields

    def templates_to(self, openid: str) -> list[JSONDict]:
        """The template messages this OpenID received (the template/send bodies), in order."""
        return list(self._templates_sent.get(openid, []))

    def block(self, openid: str) -> None:
        """The user unfollowed the account: sends to them fail with 43004."""
        self._blocked.add(openid)

    def add_media(self, media_id: str, content: bytes) -> None:
        """Temporary media WeChat holds (as if a user sent it): valid for three days."""
        self._media[media_id] = (content, self.clock() + MEDIA_LIFETIME)

    def expire_media(self, media_id: str) -> None:
        """The media_id has expired: media/get and image messages naming it answer 40007."""
        content, _ = self._media[media_id]
        self._media[media_id] = (content, self.clock() - timedelta(seconds=1))

    def close_window(self, openid: str) -> None:
        """As if the user had not interacted for over 48 hours."""
        self._last_interaction.pop(openid, None)


def _message_problem(body: JSONDict) -> tuple[int, str] | None:
    kind = body.get("msgtype")
    if kind == "text":
        content = (body.get("text") or {}).get("content")
        if not isinstance(content, str) or not content:
            return 44003, "empty news data"
        if len(content.encode()) > 2048:
            return 45002, "content size out of limit"
        return None
    if kind == "image":
        media_id = (body.get("image") or {}).get("media_id")
        return None if isinstance(media_id, str) and media_id else (40007, "invalid media_id")
    if kind == "msgmenu":
        menu = body.get("msgmenu") or {}
        items = menu.get("list")
        head = menu.get("head_content", "")
        if not isinstance(items, list) or not 1 <= len(items) <= 10:
            return 47001, "data format error"
        if not isinstance(head, str) or len(head.encode()) > 1024:
            return 47001, "data format error"
        for item in items:
            if not isinstance(item, dict) or not item.get("id") or not item.get("content"):
                return 47001, "data format error"
        return None
    return 40008, "invalid message type"


def _template_data_fits(data: object, fields: tuple[str, ...]) -> bool:
    if not isinstance(data, dict) or not data:
        return False
    for key, item in data.items():
        if key not in fields or not isinstance(item, dict):
            return False
        value = item.get("value")
        if not isinstance(value, str):
            return False
        if key.startswith("thing") and len(value) > 20:
            return False
        if key.startswith("character_string") and len(value) > 32:
            return False
    return True


_MENU_TYPES = {
    "click",
    "view",
    "scancode_push",
    "scancode_waitmsg",
    "pic_sysphoto",
    "pic_photo_or_album",
    "pic_weixin",
    "location_select",
    "media_id",
    "article_id",
    "article_view_limited",
    "miniprogram",
}


def _menu_problem(body: JSONDict) -> tuple[int, str] | None:
    buttons = body.get("button")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return 40016, "invalid button size"
    for button in buttons:
        if not isinstance(button, dict) or not isinstance(button.get("name"), str):
            return 40016, "invalid button size"
        if len(button["name"].encode()) > 16:
            return 40018, "invalid button name size"
        subs = button.get("sub_button")
        items = subs if subs is not None else [button]
        if subs is not None and (not isinstance(subs, list) or not 1 <= len(subs) <= 5):
            return 40023, "invalid sub button size"
        for item in items:
            if item is not button and len(str(item.get("name", "")).encode()) > 60:
                return 40025, "invalid sub button name size"
            if item.get("type") not in _MENU_TYPES:
                return 40017, "invalid button type"
            if item["type"] == "click" and not 1 <= len(str(item.get("key", "")).encode()) <= 128:
                return 40019, "invalid button key size"
    return None
