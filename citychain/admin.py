from django.contrib import admin

from citychain.models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("hostname", "last_seen", "tasks_seen")
    search_fields = ("hostname",)
    readonly_fields = ("hostname", "last_seen", "tasks_seen")

    def has_add_permission(self, request):
        return False
