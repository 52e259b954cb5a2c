from ninja import Router

from portal.api.api import require_scope

router = Router(tags=["hello"])


@router.get("/greeting")
def greeting(request):
    token = require_scope(request, "hello:read", plugin="hello")
    return {"greeting": f"Hello, {token.library.name}"}
