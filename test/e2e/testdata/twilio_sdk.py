#!/usr/bin/env python3
"""Twilio's Python clients against https://api.twilio.com served on loopback.

Driven by test/e2e/sdk_python_test.go (TestSDKPython, TestSDKPythonChallenge),
never run by hand against the real Twilio. Reads one JSON object on stdin:

  mode         "sdk" (Twilio's helper library, twilio.rest.Client) or
               "challenge" (urllib with HTTPBasicAuthHandler, which sends the
               credentials only after a 401 with WWW-Authenticate: Basic)
  port         the loopback port that serves api.twilio.com (TLS)
  cafile       PEM file of the roots to trust (Caddy's local CA)
  account_sid, token, to, from, body

and prints one JSON object with what each operation gave the client.

Connections to api.twilio.com:443 go to 127.0.0.1:<port>; every other host
is refused, so nothing leaves the machine. URLs, Host and TLS server name stay
api.twilio.com, as in any program using these clients.
"""

import json
import socket
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

HOST = "api.twilio.com"
cfg = json.load(sys.stdin)

_getaddrinfo = socket.getaddrinfo


def _loopback_getaddrinfo(host, port, *args, **kwargs):
    if host == HOST and int(port) == 443:
        return _getaddrinfo("127.0.0.1", cfg["port"], *args, **kwargs)
    if host in ("127.0.0.1", "localhost"):
        return _getaddrinfo(host, port, *args, **kwargs)
    raise socket.gaierror("e2e: refusing to resolve %s:%s" % (host, port))


socket.getaddrinfo = _loopback_getaddrinfo

BASE = "https://%s/2010-04-01/Accounts/%s" % (HOST, cfg["account_sid"])
RELAYED = ("Content-Type", "Twilio-Request-Id", "Twilio-Request-Duration", "Twilio-Concurrent-Requests", "WWW-Authenticate")


def headers_of(h):
    """The headers a Twilio client may read (names as Twilio sends them)."""
    out = {}
    for k in RELAYED:
        v = h.get(k)
        if v is not None:
            out[k] = v
    return out


def plain(props):
    """A resource's properties as JSON values (dates and decimals as text)."""
    return json.loads(json.dumps(props, default=str))


def run_sdk():
    from twilio.base.exceptions import TwilioRestException
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    http = TwilioHttpClient(timeout=30)
    http.session.verify = cfg["cafile"]
    http.session.trust_env = False  # no proxy from the environment
    client = Client(cfg["account_sid"], cfg["token"], http_client=http)
    out = {"library": __import__("twilio").__version__}

    def last():
        r = http.last_response
        return {"status": r.status_code, "headers": headers_of(r.headers)}

    m = client.messages.create(to=cfg["to"], from_=cfg["from"], body=cfg["body"])
    out["create"] = dict(last(), resource=plain(m._properties))
    f = client.messages(m.sid).fetch()
    out["fetch"] = dict(last(), resource=plain(f._properties))
    listed = client.messages.list(to=cfg["to"], limit=5, page_size=1)
    out["list"] = {"resources": [plain(x._properties) for x in listed]}
    try:
        client.messages.create(to="+15005550001", from_=cfg["from"], body=cfg["body"])
        out["error"] = {"raised": False}
    except TwilioRestException as e:
        out["error"] = {"raised": True, "status": e.status, "code": e.code, "msg": e.msg, "method": e.method,
                        "uri": e.uri, "details": e.details}
    try:
        client.messages("SM" + "0" * 31 + "1").fetch()
        out["not_found"] = {"raised": False}
    except TwilioRestException as e:
        out["not_found"] = {"raised": True, "status": e.status, "code": e.code, "msg": e.msg, "method": e.method,
                            "uri": e.uri, "details": e.details}
    return out


class CountingBasicAuth(urllib.request.HTTPBasicAuthHandler):
    """HTTPBasicAuthHandler that remembers each challenge it answered."""

    def __init__(self, mgr):
        super().__init__(mgr)
        self.challenges = []

    def http_error_401(self, req, fp, code, msg, headers):
        body = fp.read().decode("utf-8", "replace")
        try:
            body = json.loads(body)
        except ValueError:
            pass
        self.challenges.append({"status": code, "headers": headers_of(headers), "body": body,
                                "had_credentials": req.has_header("Authorization")})
        return super().http_error_401(req, fp, code, msg, headers)


def run_challenge():
    ctx = ssl.create_default_context(cafile=cfg["cafile"])
    mgr = urllib.request.HTTPPasswordMgr()  # never sends credentials before a challenge
    mgr.add_password("Twilio API", "https://%s/" % HOST, cfg["account_sid"], cfg["token"])
    auth = CountingBasicAuth(mgr)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx), auth)

    def call(method, url, form=None):
        auth.challenges = []
        data = urllib.parse.urlencode(form, doseq=True).encode() if form is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with opener.open(req, timeout=30) as resp:
                status, hdrs, body = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            status, hdrs, body = e.code, e.headers, e.read()
        try:
            parsed = json.loads(body.decode("utf-8"))
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        return {"status": status, "headers": headers_of(hdrs), "body": parsed, "challenges": auth.challenges}

    out = {}
    out["create"] = call("POST", BASE + "/Messages.json", {"To": cfg["to"], "From": cfg["from"], "Body": cfg["body"]})
    sid = out["create"]["body"].get("sid", "") if isinstance(out["create"]["body"], dict) else ""
    out["fetch"] = call("GET", BASE + "/Messages/%s.json" % sid)
    out["list"] = call("GET", BASE + "/Messages.json?" + urllib.parse.urlencode({"To": cfg["to"], "PageSize": 5}))
    return out


if __name__ == "__main__":
    mode = cfg.get("mode", "sdk")
    result = run_sdk() if mode == "sdk" else run_challenge()
    json.dump(result, sys.stdout, sort_keys=True)
