"""The public ledger explorer: blocks, entries and proofs, readable without login."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from ledger import kinds, selectors
from ledger.models import Block


def explorer(request: HttpRequest) -> HttpResponse:
    page = Paginator(Block.objects.order_by("-height"), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "ledger/explorer.html",
        {"page": page, "head": selectors.head(), "pending": selectors.pending_count()},
    )


def block_detail(request: HttpRequest, height: int) -> HttpResponse:
    block = Block.objects.filter(height=height).first()
    if block is None:
        raise Http404
    entries = Paginator(selectors.block_entries(block).only("leaf_index", "kind", "leaf_hash"), 100)
    page = entries.get_page(request.GET.get("page"))
    rows = [{"entry": e, "public": kinds.is_public(e.kind)} for e in page]
    return render(request, "ledger/block.html", {"sealed_block": block, "page": page, "rows": rows})


def entry_detail(request: HttpRequest, leaf_index: int) -> HttpResponse:
    entry = selectors.sealed_entry(leaf_index)
    if entry is None or leaf_index >= selectors.head_size():
        raise Http404
    proof = selectors.inclusion_proof(leaf_index)
    head = selectors.head()
    public = selectors.public_entry(entry)
    return render(
        request,
        "ledger/entry.html",
        {
            "entry": entry,
            "kind": selectors.entry_content(entry)["kind"],
            "content": public,
            "leaf_data": bytes(entry.leaf_data).decode() if public else None,
            "proof": proof,
            "audit_path": [h.hex() for h in proof.audit_path],
            "head": head,
        },
    )
