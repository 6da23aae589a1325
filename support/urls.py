from django.urls import path

from . import views

app_name = "support"

urlpatterns = [
    path("help/", views.help_page, name="help"),
    path("tickets/", views.ticket_list, name="ticket_list"),
    path("tickets/new/", views.ticket_new, name="ticket_new"),
    path("tickets/<str:number>/", views.ticket_detail, name="ticket_detail"),
    path("returns/<str:number>/", views.return_new, name="return_new"),
    path("attachments/<int:pk>/", views.attachment_file, name="attachment"),
    path("desk/<str:number>/", views.desk_ticket, name="desk_ticket"),
    path("desk/<str:number>/<slug:action>/", views.desk_action, name="desk_action"),
]
