"""Issue 3, point 2 (and 9): the one-click screenshot button captures the screen as a PNG
(Chromium's fake capture, see conftest.CHROMIUM_ARGS), and a screenshot pasted from the
clipboard is attached; both are stored with the ticket."""
from __future__ import annotations

import struct

from browser_helpers import READY, is_png, paste_file, png_bytes
from flows import ticket_id_of, wait_for_files


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])  # IHDR: width, height


def _files(session, ticket_id: int) -> list[tuple[str, str, bytes]]:
    from app.models import Attachment, AttachmentBlob

    rows = session.query(Attachment.filename, Attachment.content_type, AttachmentBlob.content).join(
        AttachmentBlob, AttachmentBlob.sha256 == Attachment.sha256).filter(
        Attachment.ticket_id == ticket_id).order_by(Attachment.id)
    return [(name, kind, bytes(content)) for name, kind, content in rows]


def test_the_screenshot_button_and_a_pasted_image_attach_pngs(people, site):
    cast = site.cast("requester")
    site.deploy_shipped()
    requester = people.open(cast["requester"])
    page = requester.page
    requester.goto("/portal/new")
    page.fill("#subject", "The report screen freezes")
    page.fill("#description", "See the screenshots.")
    # a pasted image lands in the files list, where it can be taken out again
    assert paste_file(page, "#description", png_bytes(3, 3), "wrong.png")
    [wrong] = wait_for_files(page, "#attach-files", 1)
    page.get_by_role("button", name=f"Remove {wrong['name']}").click()
    wait_for_files(page, "#attach-files", 0)
    # the one that counts, then one click on "Screenshot" (Chromium's fake screen)
    pasted = png_bytes(12, 7, (250, 200, 0))
    assert paste_file(page, "#description", pasted, "image.png")
    wait_for_files(page, "#attach-files", 1)
    page.get_by_role("button", name="Screenshot", exact=True).click()
    chosen = wait_for_files(page, "#attach-files", 2)
    assert [f["type"] for f in chosen] == ["image/png", "image/png"]
    with page.expect_navigation(wait_until=READY):
        page.get_by_role("button", name="Send the ticket").click()
    ticket_id = ticket_id_of(page.url)

    files = site.read(lambda s: _files(s, ticket_id))
    assert len(files) == 2, files
    names = [name for name, _, _ in files]
    assert all(n.startswith("screenshot-") and n.endswith(".png") for n in names) and len(set(names)) == 2
    (_, _, first), (_, kind, captured) = files
    assert first == pasted  # the pasted image, byte for byte
    assert kind == "image/png" and is_png(captured)
    width, height = _png_size(captured)
    assert width >= 320 and height >= 200  # a frame of the fake screen, not a blank pixel
    for name in names:
        assert page.get_by_role("link", name=name).is_visible()
