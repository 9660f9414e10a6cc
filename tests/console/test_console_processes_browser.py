"""The process pages in Debian's chromium (Playwright, headless). An administrator opens the subsidy
process in the modeler, adds a user task in the community officer's lane, checks and deploys it as
version 2; a new case runs on version 2 while a case waiting on version 1 finishes on version 1;
the administrator migrates a waiting case after a dry run. The modeler keeps every shipped process
as it was read; the item form previews the portal's form as its schema is typed. Screenshots under
``test-artifacts/console/``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from console_support import OFFICER, REVIEWER, decide, submit
from flask import Flask
from processes_support import BPMN, PROCESS, subsidy
from sqlalchemy import select
from test_console_browser import console

from huiju.models import Case, CaseStatus
from huiju.runtime import Runtime
from tests.support.servers import serving
from workflows_bpmn.compare import compare_bpmn
from workflows_bpmn.definitions import bundled_process_files
from workflows_bpmn.models import HumanTask, HumanTaskStatus, ProcessDefinition, ProcessInstance
from workflows_bpmn.step_names import step_names

STEP_NAME = "材料核对"
STEP_NAME_EN = "Check materials"
PROCESS_NAME_EN = "Home-based elderly care service subsidy (with a materials check)"


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    with serving(app) as url:
        yield url


def on_screen(page: Any, x: float, y: float) -> tuple[float, float]:
    """Where a point of the diagram (BPMN DI coordinates) is on the screen, as the canvas shows it now."""
    found = page.evaluate(
        """([x, y]) => {
             const canvas = window.huijuModeler.get("canvas");
             const box = canvas.getContainer().getBoundingClientRect();
             const view = canvas.viewbox();
             return [box.left + (x - view.x) * view.scale, box.top + (y - view.y) * view.scale];
           }""",
        [x, y],
    )
    return float(found[0]), float(found[1])


def case_state(runtime: Runtime, number: str) -> tuple[CaseStatus, int, str | None]:
    with runtime.db.sessions() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        instance = session.get(ProcessInstance, case.process_instance_id)
        assert instance is not None
        return case.status, instance.definition.version, case.outcome


def ready_steps(runtime: Runtime, number: str) -> list[str]:
    with runtime.db.sessions() as session:
        return list(
            session.scalars(
                select(HumanTask.name).join(Case, Case.id == HumanTask.case_id)
                .where(Case.number == number, HumanTask.status == HumanTaskStatus.READY)
            )
        )  # fmt: skip


def test_an_administrator_adds_a_step_deploys_version_2_and_migrates_a_waiting_case(
    runtime: Runtime, base_url: str
) -> None:
    from playwright.sync_api import expect

    reviewing = submit(runtime)  # waits on version 1 for the street's review
    decide(runtime, OFFICER, "intake", "accept")
    waiting = submit(runtime)  # waits on version 1 at intake: migrated below
    with console(base_url, (1440, 900)) as c:
        page = c.page
        page.on("dialog", lambda dialog: dialog.accept())
        c.sign_in("admin")
        page.goto(f"{base_url}/console/processes/")
        expect(page.locator('tr[data-process="elderly_care_subsidy"] td.running')).to_have_text("2")
        c.shot("processes-1-list.png")
        page.locator('tr[data-process="elderly_care_subsidy"] a', has_text="第 1 版").click()
        expect(page.locator("#version-diagram")).to_have_attribute("data-rendered", "yes")
        page.locator("#open-modeler").click()
        expect(page.locator("#modeler")).to_have_attribute("data-rendered", "yes")

        # A task from the palette, dropped on the accepted cases' flow where it crosses the officer's lane.
        page.locator('.djs-palette [data-action="create.task"]').click()
        x, y = on_screen(page, 1350, 560)
        page.mouse.move(x - 20, y - 20)
        page.mouse.move(x, y, steps=5)
        page.mouse.down()
        page.mouse.up()
        page.keyboard.type(STEP_NAME)  # its name, typed on the canvas where the new task opened for it
        page.keyboard.press("Enter")
        page.locator('.djs-context-pad [data-action="replace"]').click()
        page.locator('.djs-popup [data-id="replace-with-user-task"]').click()
        expect(page.locator("#prop-name")).to_have_value(STEP_NAME)
        page.locator("#prop-name_en").fill(STEP_NAME_EN)  # its name on English pages
        page.locator("#prop-name_en").dispatch_event("change")
        page.locator("#prop-decision-done").check()
        page.locator("#prop-case_status").select_option("review")
        c.shot("processes-2-modeler-new-step.png")
        # The pool selected, the panel edits its process's English name.
        page.evaluate("""() => { const m = window.huijuModeler;
                                 m.get("selection").select(m.get("elementRegistry").get("participant_elderly_care_subsidy")); }""")
        expect(page.locator("#prop-process_name_en")).to_have_value("Home-based elderly care service subsidy")
        page.locator("#prop-process_name_en").fill(PROCESS_NAME_EN)
        page.locator("#prop-process_name_en").dispatch_event("change")

        page.locator("#check").click()
        expect(page.locator("#modeler-status")).to_contain_text("校验通过")
        page.locator("#deploy").click()
        expect(page.locator("h1")).to_contain_text("第 2 版")
        expect(page.locator("#version-diagram")).to_have_attribute("data-rendered", "yes")
        c.shot("processes-3-version-2.png")

    with runtime.db.sessions() as session:
        v2 = session.scalars(select(ProcessDefinition).where(ProcessDefinition.process_id == PROCESS,
                                                             ProcessDefinition.version == 2)).one()  # fmt: skip
        assert v2.deployed_by == "admin"
    added = [c for c in compare_bpmn(subsidy()[BPMN], v2.sources[BPMN]) if c.change == "added"]
    assert [(c.kind, c.name) for c in added if c.kind == "userTask"] == [("userTask", STEP_NAME)]
    with runtime.db.sessions() as session:
        assert step_names(session).of(STEP_NAME, "en") == STEP_NAME_EN
        assert step_names(session).of("居家养老服务补贴", "en") == PROCESS_NAME_EN

    # A new case runs on version 2 (its new step); the case waiting on version 1 finishes there.
    new = submit(runtime)
    with runtime.db.sessions() as session:
        intake = session.scalars(select(HumanTask.id).join(Case, Case.id == HumanTask.case_id)
                                 .where(Case.number == new, HumanTask.step == "intake")).one()  # fmt: skip
    _decide_task(runtime, OFFICER, intake, "accept")
    assert case_state(runtime, new)[1] == 2 and ready_steps(runtime, new) == [STEP_NAME]
    decide(runtime, REVIEWER, "street_review", "approve")
    assert case_state(runtime, reviewing) == (CaseStatus.CONCLUDED, 1, "approved")  # never saw the new step

    with console(base_url, (1440, 900)) as c:
        page = c.page
        c.sign_in("admin")
        page.goto(f"{base_url}/console/running/?number={waiting}")
        page.get_by_role("link", name=waiting).click()
        expect(page.locator("#case-version")).to_contain_text("第 1 版")
        page.locator("#to").select_option(label="第 2 版")
        page.locator("#dry-run-form button").click()
        expect(page.locator("#dry-run")).to_contain_text("可以迁移到第 2 版")
        assert case_state(runtime, waiting)[1] == 1  # a dry run changes nothing
        c.shot("processes-4-dry-run.png")
        page.locator("#migrate-form button").click()
        expect(page.locator(".alert-success")).to_contain_text("办件已迁移到第 2 版")
        expect(page.locator("#case-version")).to_contain_text("第 2 版")
        expect(page.locator("#running-timeline")).to_contain_text("已迁移版本")
        c.shot("processes-5-migrated.png")
    with runtime.db.sessions() as session:
        intake = session.scalars(select(HumanTask.id).join(Case, Case.id == HumanTask.case_id)
                                 .where(Case.number == waiting, HumanTask.step == "intake")).one()  # fmt: skip
    _decide_task(runtime, OFFICER, intake, "accept")
    assert ready_steps(runtime, waiting) == [STEP_NAME]  # version 2's step, on a case begun on version 1


def _decide_task(runtime: Runtime, username: str, task_id: str, decision: str) -> None:
    from huiju.services.actors import load_actor
    from huiju.services.tasks import complete_task
    from tests.support.canned import deliver_replies

    with runtime.db.transaction() as session:
        complete_task(session, runtime.engine, load_actor(session, username), task_id, decision, {})
    deliver_replies(runtime)


@pytest.mark.parametrize("path", bundled_process_files(), ids=lambda p: p.stem)
def test_the_modeler_keeps_a_shipped_process_as_it_read_it(base_url: str, path: Any) -> None:
    from playwright.sync_api import expect

    with console(base_url) as c:
        c.sign_in("admin")
        c.page.goto(f"{base_url}/console/processes/{path.stem}/v1/modeler")
        expect(c.page.locator("#modeler")).to_have_attribute("data-rendered", "yes")
        source = path.read_text(encoding="utf-8")
        assert c.page.get_attribute("#modeler", "data-warnings") is None
        saved = c.page.evaluate("window.huijuModeler.saveXML({format: true}).then(r => r.xml)")
        c.page.locator("#check").click()  # what the modeler would deploy passes the deploy-time checks
        expect(c.page.locator("#modeler-status")).not_to_have_class("alert alert-info")
        findings = c.page.locator("#findings").inner_text()
        assert c.page.get_attribute("#modeler-status", "class") == "alert alert-success", findings
    assert compare_bpmn(source, saved) == []
    # A multi-instance loop names its collections by variable, which bpmn-js would take for elements
    # it cannot find and drop: the modeler keeps them.
    assert loop_collections(saved) == loop_collections(source)


def test_a_loops_collections_are_edited_in_the_panel(base_url: str) -> None:
    from playwright.sync_api import expect

    with console(base_url) as c:
        c.sign_in("admin")
        c.page.goto(f"{base_url}/console/processes/o2o_order/v1/modeler")
        expect(c.page.locator("#modeler")).to_have_attribute("data-rendered", "yes")
        c.page.locator('[data-element-id="offer_round"]').first.click()
        expect(c.page.locator("#prop-loop_input")).to_have_value("candidates")
        c.page.locator("#prop-loop_input").fill("providers_in_turn")
        c.page.locator("#prop-loop_input").dispatch_event("change")
        saved = c.page.evaluate("window.huijuModeler.saveXML({format: true}).then(r => r.xml)")
    assert loop_collections(saved)["offer_round"] == ("providers_in_turn", "offers")


def loop_collections(xml: str) -> dict[str, tuple[str | None, str | None]]:
    from lxml import etree

    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    root = etree.fromstring(xml.encode("utf-8"))
    return {
        str(loop.getparent().get("id")): (loop.findtext("bpmn:loopDataInputRef", namespaces=ns),
                                          loop.findtext("bpmn:loopDataOutputRef", namespaces=ns))
        for loop in root.iterfind(".//bpmn:multiInstanceLoopCharacteristics", ns)
    }  # fmt: skip


def open_modeler_at(c: Any, element: str) -> None:
    """The administrator opens the subsidy's version 1 in the modeler and selects ``element``."""
    from playwright.sync_api import expect

    c.sign_in("admin")
    c.page.goto(f"{c.base_url}/console/processes/{PROCESS}/v1/modeler")
    expect(c.page.locator("#modeler")).to_have_attribute("data-rendered", "yes")
    c.page.locator(f'[data-element-id="{element}"]').first.click()


def test_a_refused_element_is_marked_on_the_diagram(base_url: str) -> None:
    from playwright.sync_api import expect

    with console(base_url) as c:
        page = c.page
        open_modeler_at(c, "notify_applicant")
        page.locator("#prop-operation").select_option("")  # a service task calling nothing
        page.locator("#check").click()
        expect(page.locator("#modeler-status")).to_have_class("alert alert-danger")
        expect(page.locator('#findings li[data-element="notify_applicant"]')).to_be_visible()
        expect(page.locator('[data-element-id="notify_applicant"].invalid').first).to_be_attached()
        c.shot("processes-6-refused.png")


def test_a_timer_typed_in_words_is_written_as_iso_8601(base_url: str) -> None:
    """The administrator types a timer's length as people say it; the modeler writes the ISO 8601
    text BPMN reads there, says so, and the check passes. An expression is left as it is."""
    from playwright.sync_api import expect

    with console(base_url) as c:
        page = c.page
        open_modeler_at(c, "timer_supplement")
        field = page.locator("#prop-timer_expression")
        expect(field).to_have_value('limits["supplement_wait"]')
        field.fill("2 小时")
        field.dispatch_event("change")
        expect(field).to_have_value('"PT2H"')
        expect(page.locator("#timer-written")).to_have_text(
            '“2 小时”已写为 "PT2H"，即 BPMN 读取的时长格式（ISO 8601）。'
        )
        saved = page.evaluate("window.huijuModeler.saveXML({format: true}).then(r => r.xml)")
        assert '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT2H"</bpmn:timeDuration>' in saved
        page.locator("#check").click()
        expect(page.locator("#modeler-status")).to_have_class("alert alert-success")
        expect(page.locator("#timer-written")).to_contain_text('"PT2H"')  # still said, after the check
        c.shot("processes-7-timer-in-words.png")
        field.fill('limits["supplement_wait"]')  # an expression: as written
        field.dispatch_event("change")
        page.locator("#check").click()
        expect(page.locator("#modeler-status")).to_have_class("alert alert-success")
        expect(field).to_have_value('limits["supplement_wait"]')
        expect(page.locator("#timer-written")).to_have_text("")


def test_the_item_form_previews_the_portal_form_as_the_schema_is_typed(base_url: str) -> None:
    from playwright.sync_api import expect

    with console(base_url) as c:
        page = c.page
        c.sign_in("admin")
        page.goto(f"{base_url}/console/items/elderly-care-subsidy")
        preview = page.locator("#form-preview")
        expect(preview.locator("#preview-income_band option")).to_contain_text(["请选择", "低保", "低收入", "一般"])
        expect(preview.locator("#preview-living_alone input[type=radio]")).to_have_count(2)
        schema = page.locator("#form_schema")
        text = schema.input_value().replace('"properties": {', '"properties": {"note": {"type": "string", '
                                            '"title": "备注", "maxLength": 500},', 1)  # fmt: skip
        schema.fill(text)
        expect(preview.locator("textarea#preview-note")).to_be_visible()
        schema.fill(text[:-5])
        expect(page.locator("#schema-problem")).to_contain_text("尚不是合法的 JSON")
        c.shot("processes-7-item-preview.png")


def test_the_case_page_diagram_fits_its_box_zooms_and_pans(runtime: Runtime, base_url: str) -> None:
    from playwright.sync_api import expect

    number = submit(runtime)  # it waits at the community's intake
    with console(base_url, (1440, 900)) as c:
        page = c.page
        c.sign_in(OFFICER)
        page.goto(f"{base_url}/console/cases/{number}")
        box = page.locator("#diagram")
        expect(box).to_have_attribute("data-rendered", "yes")
        assert page.locator('#diagram [data-element-id="intake"].current').count() == 1
        state = """() => { const canvas = window.huijuDiagrams["diagram"].get("canvas"); const view = canvas.viewbox();
                           return [canvas.zoom(), view.x, view.inner.x >= view.x - 1
                                   && view.inner.x + view.inner.width <= view.x + view.width + 1]; }"""
        fitted, _x, inside = page.evaluate(state)
        assert inside  # the whole process is within the box
        page.locator('.diagram-tools[data-for="diagram"] [data-zoom="in"]').click()
        zoomed, before, _inside = page.evaluate(state)
        assert zoomed > fitted * 1.2
        bounds = box.bounding_box()
        assert bounds is not None
        middle = (bounds["x"] + bounds["width"] / 2, bounds["y"] + bounds["height"] / 2)
        page.mouse.move(*middle)
        page.mouse.down()
        page.mouse.move(middle[0] - 150, middle[1] - 40, steps=8)
        page.mouse.up()
        assert page.evaluate(state)[1] > before + 50  # dragged: the view moved along the diagram
        c.shot("case-diagram-zoomed.png")
        page.locator('.diagram-tools[data-for="diagram"] [data-zoom="fit"]').click()
        assert abs(page.evaluate(state)[0] - fitted) < 0.01


def test_the_order_process_draws_its_sms_steps_and_the_dispatch_round_drills_down(base_url: str) -> None:
    """The order's SMS steps are drawn in their lanes; the dispatch round (a collapsed subprocess)
    opens on a plane of its own that draws its steps, the family's SMS of each offer among them."""
    from playwright.sync_api import expect

    with console(base_url, viewport=(1600, 900)) as c:
        c.sign_in("admin")
        c.page.goto(f"{base_url}/console/processes/o2o_order/v1/modeler")
        expect(c.page.locator("#modeler")).to_have_attribute("data-rendered", "yes")
        assert c.page.get_attribute("#modeler", "data-warnings") is None
        for element in ("sms_pay", "sms_pay_failed", "fork_payment", "sms_assigned_provider"):
            expect(c.page.locator(f'#modeler [data-element-id="{element}"]').first).to_be_visible()
        expect(c.page.locator('#modeler [data-element-id="sms_pay"]').first).to_contain_text("短信通知：请支付")
        c.shot("o2o-order-modeler.png")
        c.page.locator('.djs-overlays[data-container-id="offer_round"] .bjs-drilldown').click()
        for element in ("answer_offer", "sms_offer", "notify_offered", "notify_offered_failed"):
            expect(c.page.locator(f'#modeler [data-element-id="{element}"]').first).to_be_visible()
        expect(c.page.locator('#modeler [data-element-id="notify_offered"]').first).to_contain_text("派单中")
        c.page.locator("#fit").click()
        c.shot("o2o-order-dispatch-round.png")
