"""Read-only admin for the ledger: history must not change through the admin."""

from django.contrib import admin

from ledger.models import Block, Entry


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Block)
class BlockAdmin(ReadOnlyAdmin):
    list_display = ("height", "sealed_at", "entry_count", "tree_size", "hash")
    search_fields = ("hash", "root_hash")


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "leaf_index", "block_height", "recorded_at")
    list_filter = ("kind",)
    search_fields = ("=leaf_index",)
    exclude = ("leaf_data", "leaf_hash")
    readonly_fields = ("leaf_hash_hex",)
    show_full_result_count = False
