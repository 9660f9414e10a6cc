"""The community service order's BPMN (o2o_order.bpmn) as a model: its SMS steps follow one pattern
(a failure of the SMS platform ends the SMS's own branch, never the order), and its diagram draws
every step where the administrator's modeler can show it — the collapsed dispatch round on a plane of
its own, as bpmn-js drills down into it."""

from __future__ import annotations

import pytest
from lxml import etree

from workflows_bpmn.definitions import PROCESS_FOLDER

BPMN_FILE = PROCESS_FOLDER / "o2o_order.bpmn"
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
#: The SMS steps added for the turns that sent nothing: (step, its boundary, its lane, the recipients).
NEW_SMS = [
    ("sms_pay", "sms_pay_failed", "system", "str(payer_phone)"),
    ("notify_offered", "notify_offered_failed", "provider", "notify_phones"),
    ("sms_assigned_provider", "sms_assigned_provider_failed", "operator", 'str(operator_dispatch["provider_phone"])'),
]


@pytest.fixture(scope="module")
def doc() -> etree._ElementTree:
    return etree.parse(str(BPMN_FILE))


def _one(doc: etree._ElementTree, xpath: str) -> etree._Element:
    (found,) = doc.xpath(xpath, namespaces=NS)
    return found


def _bounds(plane: etree._Element, element_id: str) -> tuple[float, float, float, float]:
    (bounds,) = plane.xpath(f"bpmndi:BPMNShape[@bpmnElement='{element_id}']/dc:Bounds", namespaces=NS)
    return tuple(float(bounds.get(k)) for k in ("x", "y", "width", "height"))  # type: ignore[return-value]


def _drawn(plane: etree._Element) -> set[str]:
    return set(plane.xpath("bpmndi:BPMNShape/@bpmnElement | bpmndi:BPMNEdge/@bpmnElement", namespaces=NS))


def _children(container: etree._Element) -> set[str]:
    """The ids of what a process or subprocess holds itself (not what its subprocesses hold)."""
    return {
        el.get("id")
        for el in container
        if el.get("id") and etree.QName(el).localname not in ("laneSet", "multiInstanceLoopCharacteristics")
    }


@pytest.mark.parametrize(
    ("container", "plane"),
    [("o2o_order", "collaboration_o2o_order"), ("offer_round", "offer_round"), ("notify_offered", "notify_offered")],
)
def test_every_element_is_drawn_on_its_plane(doc: etree._ElementTree, container: str, plane: str) -> None:
    held = _one(doc, f"//bpmn:process[@id='{container}'] | //bpmn:subProcess[@id='{container}']")
    drawn = _drawn(_one(doc, f"//bpmndi:BPMNPlane[@bpmnElement='{plane}']"))
    assert _children(held) - drawn == set()
    if container == "o2o_order":
        assert set(held.xpath("bpmn:laneSet/bpmn:lane/@id", namespaces=NS)) <= drawn


def test_edges_start_and_end_on_the_shapes_they_join(doc: etree._ElementTree) -> None:
    """A flow's first and last points touch its source's and target's shapes (bpmn-js draws it so)."""
    for plane in doc.xpath("//bpmndi:BPMNPlane", namespaces=NS):
        for edge in plane.xpath("bpmndi:BPMNEdge", namespaces=NS):
            flow = _one(doc, f"//bpmn:sequenceFlow[@id='{edge.get('bpmnElement')}']")
            points = [(float(p.get("x")), float(p.get("y"))) for p in edge]
            assert len(points) >= 2, flow.get("id")
            for (px, py), end in ((points[0], flow.get("sourceRef")), (points[-1], flow.get("targetRef"))):
                x, y, w, h = _bounds(plane, end)
                assert x - 1 <= px <= x + w + 1 and y - 1 <= py <= y + h + 1, (flow.get("id"), end, (px, py))


@pytest.mark.parametrize(("step", "boundary", "lane", "recipients"), NEW_SMS, ids=[s[0] for s in NEW_SMS])
def test_a_new_sms_step_ends_its_own_branch_when_the_platform_fails(
    doc: etree._ElementTree, step: str, boundary: str, lane: str, recipients: str
) -> None:
    element = _one(doc, f"//*[@id='{step}']")
    task = element if etree.QName(element).localname == "serviceTask" else _one(element, "bpmn:serviceTask")
    assert _one(task, ".//spiffworkflow:serviceTaskOperator").get("id") == "sms.send_sms"
    phone = _one(task, ".//spiffworkflow:parameter[@id='phone']").get("value")
    many = task.find("bpmn:multiInstanceLoopCharacteristics", NS)
    assert (many.findtext("bpmn:loopDataInputRef", namespaces=NS) if many is not None else phone) == recipients
    catch = _one(doc, f"//bpmn:boundaryEvent[@id='{boundary}']")
    assert catch.get("attachedToRef") == step and catch.get("name") == "短信失败"
    assert _one(catch, "bpmn:errorEventDefinition").get("errorRef") == "error_service_failed"
    (after,) = doc.xpath(f"//bpmn:sequenceFlow[@sourceRef='{boundary}']/@targetRef", namespaces=NS)
    assert etree.QName(_one(doc, f"//*[@id='{after}']")).localname == "endEvent"  # the order goes on elsewhere
    (incoming,) = doc.xpath(f"//bpmn:sequenceFlow[@targetRef='{step}']/@sourceRef", namespaces=NS)
    assert etree.QName(_one(doc, f"//*[@id='{incoming}']")).localname == "parallelGateway"  # beside, not before
    lanes = doc.xpath(f"//bpmn:lane[bpmn:flowNodeRef='{step}']/@id", namespaces=NS)
    assert lanes == [lane] and doc.xpath(f"//bpmn:lane[bpmn:flowNodeRef='{boundary}']/@id", namespaces=NS) == [lane]


@pytest.mark.parametrize(
    ("new", "lane"),
    [
        (["fork_payment", "sms_pay", "end_sms_pay", "end_sms_pay_failed"], "system"),
        (["sms_assigned_provider", "end_sms_assigned_provider", "end_sms_assigned_provider_failed"], "operator"),
    ],
)
def test_new_shapes_sit_in_their_lane_without_overlap(doc: etree._ElementTree, new: list[str], lane: str) -> None:
    plane = _one(doc, "//bpmndi:BPMNPlane[@bpmnElement='collaboration_o2o_order']")
    lane_x, lane_y, lane_w, lane_h = _bounds(plane, lane)
    members = [m for m in doc.xpath(f"//bpmn:lane[@id='{lane}']/bpmn:flowNodeRef/text()", namespaces=NS)
               if plane.xpath(f"bpmndi:BPMNShape[@bpmnElement='{m}']", namespaces=NS)]  # fmt: skip
    boundaries = set(doc.xpath("//bpmn:boundaryEvent/@id", namespaces=NS))  # they sit on a border
    boxes = {m: _bounds(plane, m) for m in members if m not in boundaries}
    for node in new:
        x, y, w, h = boxes[node]
        assert lane_x <= x and x + w <= lane_x + lane_w and lane_y <= y and y + h <= lane_y + lane_h, node
        for other, (ox, oy, ow, oh) in boxes.items():
            if other != node:
                assert x + w <= ox or ox + ow <= x or y + h <= oy or oy + oh <= y, (node, other)
    lanes = [_bounds(plane, lane_id) for lane_id in doc.xpath("//bpmn:lane/@id", namespaces=NS)]
    for (_x, y, _w, h), (_nx, ny, _nw, _nh) in zip(lanes, lanes[1:], strict=False):
        assert y + h == ny  # the lanes still follow one another without a gap
    participant = _bounds(plane, "participant_o2o_order")
    assert participant[1] + participant[3] == lanes[-1][1] + lanes[-1][3]


def test_a_boundary_event_sits_on_the_border_of_its_step(doc: etree._ElementTree) -> None:
    for plane in doc.xpath("//bpmndi:BPMNPlane", namespaces=NS):
        for event in doc.xpath("//bpmn:boundaryEvent", namespaces=NS):
            if not plane.xpath(f"bpmndi:BPMNShape[@bpmnElement='{event.get('id')}']", namespaces=NS):
                continue
            x, y, w, h = _bounds(plane, event.get("id"))
            hx, hy, hw, hh = _bounds(plane, event.get("attachedToRef"))
            cx, cy = x + w / 2, y + h / 2
            assert hx <= cx <= hx + hw and cy in (hy, hy + hh), event.get("id")
