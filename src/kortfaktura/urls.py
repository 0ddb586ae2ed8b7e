from django.urls import include, path

from kortfaktura.api.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("kortfaktura.web.urls")),
]

handler400 = "kortfaktura.web.views.errors.bad_request"
handler404 = "kortfaktura.web.views.errors.not_found"
handler403 = "kortfaktura.web.views.errors.forbidden"
handler500 = "kortfaktura.web.views.errors.server_error"
