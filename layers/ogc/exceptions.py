"""OGC exception reports, in the dialect of the service and version asked for (WMS 1.1.1 / 1.3.0 service
exceptions, OWS Common exception reports for WFS and WCS), so OGC clients show the reason."""

from django.http import HttpResponse
from lxml import etree

OWS_11 = "http://www.opengis.net/ows/1.1"
OWS_10 = "http://www.opengis.net/ows"
OGC = "http://www.opengis.net/ogc"


class OWSException(Exception):
    """A request the client can fix: `code` is the OGC exception code, `locator` the parameter at fault."""

    def __init__(self, code: str, message: str, locator: str = "", status: int = 400):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.locator = locator


def exception_response(problem: OWSException, params: dict[str, str]) -> HttpResponse:
    status = problem.status
    service = params.get("SERVICE", "").upper()
    version = params.get("VERSION", "")
    if service == "WMS":
        return _wms(problem, version or "1.3.0", status)
    return _ows(problem, service, version, status)


def _wms(problem: OWSException, version: str, status: int) -> HttpResponse:
    if version == "1.1.1":
        root = etree.Element("ServiceExceptionReport", version="1.1.1")
        content_type = "application/vnd.ogc.se_xml"
    else:
        root = etree.Element(f"{{{OGC}}}ServiceExceptionReport", nsmap={None: OGC}, version="1.3.0")
        content_type = "text/xml"
    exception = etree.SubElement(root, f"{{{OGC}}}ServiceException" if version != "1.1.1" else "ServiceException",
                                 code=problem.code)
    if problem.locator:
        exception.set("locator", problem.locator)
    exception.text = problem.message
    return _xml(root, content_type, status)


def _ows(problem: OWSException, service: str, version: str, status: int) -> HttpResponse:
    common_11 = not (service == "WFS" and version.startswith("1.")) and not (service == "WCS" and version == "1.0.0")
    namespace = OWS_11 if common_11 else OWS_10
    root = etree.Element(f"{{{namespace}}}ExceptionReport", nsmap={"ows": namespace},
                         version="2.0.0" if service == "WFS" and common_11 else "1.1.0" if common_11 else "1.0.0")
    exception = etree.SubElement(root, f"{{{namespace}}}Exception", exceptionCode=problem.code)
    if problem.locator:
        exception.set("locator", problem.locator)
    etree.SubElement(exception, f"{{{namespace}}}ExceptionText").text = problem.message
    return _xml(root, "application/xml", status)


def _xml(root, content_type: str, status: int) -> HttpResponse:
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return HttpResponse(body, status=status, content_type=f"{content_type}; charset=utf-8")
