"""The partner SOAP ``login()`` call, as far as Salesforce still serves it.

``POST /services/Soap/u/{version}`` with a partner ``login`` envelope (``username``, and the
password with the security token appended) answers a ``loginResponse`` whose ``sessionId`` and
``serverUrl`` are plain, unprefixed elements, as clients such as simple-salesforce read them.

Salesforce retires ``login()`` in Summer '27: it answers only on API versions up to 64.0, and it
is off in orgs created from Winter '26 on. This org dates from Winter '25 (API 62.0), so it
allows it until ``PUT /_admin/salesforce/settings {"soap_login": false}``. Refusals are SOAP
faults with HTTP 500, carrying ``sf:exceptionCode`` and ``sf:exceptionMessage``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request, Response

from sandbox._db import SandboxDB
from sandbox.systems.salesforce._auth import ORG_ID, USER_ID, check_user, instance_url, login_allowed, new_session
from sandbox.systems.salesforce._schema import API_VERSION

__all__ = ["LAST_LOGIN_VERSION", "router"]

LAST_LOGIN_VERSION = 64
_XML = "text/xml; charset=utf-8"
_INVALID_LOGIN = "Invalid username, password, security token; or user locked out."

router = APIRouter(tags=["salesforce soap login"])


def _fault(code: str, message: str, fault_type: str = "UnexpectedErrorFault") -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><soapenv:Fault>"
        f"<faultcode>sf:{code}</faultcode><faultstring>{escape(f'{code}: {message}')}</faultstring>"
        f'<detail><sf:{fault_type} xsi:type="sf:{fault_type}">'
        f"<sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>{escape(message)}</sf:exceptionMessage>"
        f"</sf:{fault_type}></detail>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response(body, status_code=500, media_type=_XML)


def _texts(envelope: bytes) -> dict[str, str]:
    """The text of every element by local name (``username``, ``password``, ``organizationId``)."""
    root = ET.fromstring(envelope)
    return {element.tag.rpartition("}")[2]: (element.text or "") for element in root.iter()}


def _version_refusal(version: str) -> Response | None:
    major, dot, minor = version.partition(".")
    if not (major.isdigit() and dot and minor == "0"):
        return _fault("UNSUPPORTED_API_VERSION", f"Invalid Api version specified on URL: {version}")
    if int(major) > LAST_LOGIN_VERSION:
        return _fault(
            "UNSUPPORTED_API_VERSION",
            f"login() is not available in API version {version}: it ends with {LAST_LOGIN_VERSION}.0; "
            "log in with OAuth",
        )
    if not 20 <= int(major) <= int(API_VERSION.split(".")[0]):
        return _fault("UNSUPPORTED_API_VERSION", f"this org serves API versions 20.0 to {API_VERSION}, not {version}")
    return None


@router.post("/services/Soap/u/{version}")
async def login(request: Request, version: str) -> Response:
    """SOAP ``login()``: a session for the demo user, or a fault."""
    refused = _version_refusal(version)
    if refused is not None:
        return refused
    db: SandboxDB = request.app.state.db
    if not login_allowed(db, "soap_login"):
        return _fault(
            "INVALID_OPERATION", "SOAP API login() is disabled in this org: log in with OAuth", "InvalidOperationFault"
        )
    try:
        fields = _texts(await request.body())
    except ET.ParseError as exc:
        return _fault("INVALID_LOGIN", f"The request is not a SOAP envelope: {exc}", "LoginFault")
    organization = fields.get("organizationId")
    if organization is not None and organization not in (ORG_ID, ORG_ID[:15]):
        return _fault("INVALID_LOGIN", _INVALID_LOGIN, "LoginFault")
    username = fields.get("username", "")
    if not check_user(username, fields.get("password", "")):
        return _fault("INVALID_LOGIN", _INVALID_LOGIN, "LoginFault")

    session = new_session(db, username, "soap")
    root = instance_url(request)
    result = {
        "metadataServerUrl": f"{root}/services/Soap/m/{version}/{ORG_ID[:15]}",
        "passwordExpired": "false",
        "sandbox": "false",
        "serverUrl": f"{root}/services/Soap/u/{version}/{ORG_ID[:15]}",
        "sessionId": session,
        "userId": USER_ID,
    }
    user_info = {
        "organizationId": ORG_ID,
        "organizationName": "Brightline Partners",
        "userEmail": username,
        "userFullName": "psflow Integration",
        "userId": USER_ID,
        "userName": username,
    }
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><loginResponse><result>"
        + "".join(f"<{tag}>{escape(value)}</{tag}>" for tag, value in result.items())
        + "<userInfo>"
        + "".join(f"<{tag}>{escape(value)}</{tag}>" for tag, value in user_info.items())
        + "</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )
    return Response(body, media_type=_XML)
