"""SensorThings errors: each carries its HTTP status and a message naming the problem; the body is the one
FROST-Server answers ({"code": 400, "type": "error", "message": …}), which SensorThings clients expect."""


class StaError(Exception):
    status = 400

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    def body(self) -> dict:
        return {"code": self.status, "type": "error", "message": self.message}


class BadRequest(StaError):
    status = 400


class Forbidden(StaError):
    status = 403


class NotFound(StaError):
    status = 404


class MethodNotAllowed(StaError):
    status = 405
