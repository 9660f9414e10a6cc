"""Process definitions (流程定义): the list with every version, a version's page, the modeler with its
validation and deployment, file downloads, and the comparison of two versions."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import lazy_gettext as _l

from huiju import durations
from huiju.errors import DeployError, InputError
from huiju.services import modeler, processes
from huiju.services.processes import Validation
from huiju.web.runtime import runtime
from officer_console.security import current_actor, locale, requires
from workflows_bpmn.validation import Finding, findings_of


def _finding(finding: Finding, lang: str) -> dict[str, Any]:
    return {"file": finding.file, "element": finding.element, "text": finding.text.localize(lang)}


def _xml_response(text: str, name: str, *, download: bool) -> Response:
    response = Response(text, 200, content_type="application/xml; charset=utf-8")
    if download:
        response.headers.set("Content-Disposition", "attachment", filename=name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-store"
    return response


class ProcessesView(BaseView):  # type: ignore[misc]
    route_base = "/processes"
    default_view = "index"

    @expose("/")
    @requires("can_read")
    def index(self) -> Any:
        with runtime().db.sessions() as session:
            rows = processes.catalogue(session, current_actor())
            page = self.render_template("console/processes/index.html", rows=rows, actor=current_actor(),
                                        validation=None, locale=locale())  # fmt: skip
        return page

    @expose("/upload", methods=["POST"])
    @requires("can_edit")
    def upload(self) -> Any:
        """Uploaded BPMN/DMN files: checked (``validate``) or deployed as a new version."""
        files = {f.filename or "": f.read(processes_limit()) for f in request.files.getlist("files") if f.filename}
        sources = processes.checked_sources(files)
        actor, lang = current_actor(), locale()
        rt = runtime()
        if request.form.get("action") == "deploy":
            with rt.db.transaction() as session:
                result = processes.deploy_files(session, actor, sources, rt.engine.cache)
                target = url_for("ProcessesView.version", process_id=result.definition.process_id,
                                 version=result.definition.version)  # fmt: skip
                shown = {"process_id": result.definition.process_id, "version": result.definition.version}
            if result.created:
                flash(str(_l("Deployed %(process_id)s version %(version)s.", **shown)), "success")
            else:
                flash(str(_l("Unchanged: %(process_id)s version %(version)s has the same content.", **shown)), "info")
            return redirect(target, 303)
        with rt.db.sessions() as session:
            validation = processes.validate_files(session, actor, sources)
            rows = processes.catalogue(session, actor)
            page = self.render_template("console/processes/index.html", rows=rows, actor=actor, validation=validation,
                                        files=sorted(sources), locale=lang)  # fmt: skip
        return page

    @expose("/<process_id>/v<int:version>")
    @requires("can_read")
    def version(self, process_id: str, version: int) -> Any:
        with runtime().db.sessions() as session:
            actor = current_actor()
            definition = processes.get_version(session, actor, process_id, version)
            versions = processes.versions_of(session, actor, process_id)
            page = self.render_template(
                "console/processes/version.html", definition=definition, versions=versions, actor=actor,
                this=next(v for v in versions if v.definition.id == definition.id),
                diagram_file=processes.diagram_file(definition), called_by=processes.called_by(session, definition),
                locale=locale(),
            )  # fmt: skip
        return page

    @expose("/<process_id>/v<int:version>/files/<file_name>")
    @requires("can_read")
    def file(self, process_id: str, version: int, file_name: str) -> Any:
        """A file of the version: downloaded, or (``?inline=1``) read by the modeler on the page; with
        ``&words=1``, drawn for the reader (lanes by role, names in the page's language)."""
        reader = locale() if request.args.get("words") == "1" else None
        with runtime().db.sessions() as session:
            text = processes.version_file(session, current_actor(), process_id, version, file_name,
                                          reader_locale=reader)  # fmt: skip
        return _xml_response(text, file_name, download=request.args.get("inline") != "1")

    @expose("/<process_id>/v<int:version>/modeler")
    @requires("can_edit")
    def modeler(self, process_id: str, version: int) -> Any:
        with runtime().db.sessions() as session:
            definition = processes.get_version(session, current_actor(), process_id, version)
            diagram = processes.modeled_file(definition)
            source = url_for("ProcessesView.file", process_id=process_id, version=version, file_name=diagram, inline=1)
            page = self.render_template("console/processes/modeler.html", definition=definition, source=source,
                                        file_name=diagram, words=modeler_words(), locale=locale())  # fmt: skip
        return page

    @expose("/new", methods=["GET", "POST"])
    @requires("can_edit")
    def new(self) -> Any:
        """A new process: its id and names (Chinese, English), then the modeler on a diagram with a start event."""
        if request.method == "GET":
            return self.render_template("console/processes/new.html")
        form = request.form
        process_id, name, name_en = modeler.check_new_process(form.get("process_id"), form.get("name"),
                                                              form.get("name_en"))  # fmt: skip
        page = self.render_template(
            "console/processes/modeler.html", definition=None,
            source=url_for("ProcessesView.blank", process_id=process_id, name=name, name_en=name_en),
            file_name=f"{process_id}.bpmn", words=modeler_words(), locale=locale(),
        )  # fmt: skip
        return page

    @expose("/new/diagram.bpmn")
    @requires("can_edit")
    def blank(self) -> Any:
        args = request.args
        process_id, name, name_en = modeler.check_new_process(args.get("process_id"), args.get("name"),
                                                              args.get("name_en"))  # fmt: skip
        return _xml_response(modeler.new_process_xml(process_id, name, name_en), f"{process_id}.bpmn", download=False)

    @expose("/palette.json")
    @requires("can_edit")
    def palette(self) -> Any:
        with runtime().db.sessions() as session:
            return jsonify(modeler.palette(session, current_actor(), locale()))

    @expose("/modeler/duration")
    @requires("can_edit")
    def duration(self) -> Any:
        """The ISO 8601 duration of a length of time as people write it (``?text=2 小时``), for a timer
        the modeler's administrator typed in words; ``iso`` is null for anything else."""
        return jsonify({"iso": durations.from_words(str(request.args.get("text") or "")[:80])})

    @expose("/modeler/check", methods=["POST"])
    @requires("can_edit")
    def check(self) -> Any:
        """The modeler's diagram through the deploy-time checks (``deploy``: and deployed when it passes).
        Answers JSON: every refusal with the element it names, or the new version's page."""
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            refusal = {"file": "", "element": None, "text": str(_l("send the diagram as a JSON object"))}
            return jsonify({"ok": False, "findings": [refusal]}), 400
        actor, lang, rt = current_actor(), locale(), runtime()
        version_text = str(body.get("version") or "")
        base = (str(body.get("process_id") or "") or None, int(version_text) if version_text.isdigit() else None)
        deploying = body.get("action") == "deploy"
        try:
            with rt.db.transaction() if deploying else rt.db.sessions() as session:
                sources = modeler.modeler_sources(session, actor, body.get("xml") or "", *base)
                if not deploying:
                    return jsonify(_validation_json(processes.validate_files(session, actor, sources), lang))
                result = processes.deploy_files(session, actor, sources, rt.engine.cache)
                definition = result.definition
                answer = {
                    "ok": True, "created": result.created, "version": definition.version,
                    "url": url_for("ProcessesView.version", process_id=definition.process_id,
                                   version=definition.version),
                    "message": _deployed(result.created, definition.process_id, definition.version),
                }  # fmt: skip
        except DeployError as exc:
            return jsonify({"ok": False, "findings": [_finding(f, lang) for f in findings_of(exc)]}), 422
        except InputError as exc:
            return jsonify({"ok": False, "findings": [{"file": "", "element": None, "text": exc.localized(lang)}]}), 400
        return jsonify(answer)

    @expose("/<process_id>/compare")
    @requires("can_read")
    def compare(self, process_id: str) -> Any:
        old = request.args.get("old", type=int)
        new = request.args.get("new", type=int)
        with runtime().db.sessions() as session:
            actor = current_actor()
            versions = processes.versions_of(session, actor, process_id)
            numbers = [v.definition.version for v in versions]
            new = new if new in numbers else numbers[0]
            old = old if old in numbers else (new - 1 if new - 1 in numbers else numbers[-1])
            comparison = processes.compare_versions(session, actor, process_id, old, new)
            files = {v.definition.version: processes.diagram_file(v.definition) for v in versions}
            old_marks = {c.element: c.change for c in comparison.changes if c.change != "added"}
            new_marks = {c.element: c.change for c in comparison.changes if c.change != "removed"}
            page = self.render_template(
                "console/processes/compare.html", process_id=process_id, old=old, new=new, numbers=numbers,
                comparison=comparison, files=files, kind_words=processes.kind_words, fact_words=processes.fact_words,
                old_marks=old_marks, new_marks=new_marks, locale=locale(),
            )  # fmt: skip
        return page


def processes_limit() -> int:
    from workflows_bpmn.validation import MAX_SOURCE_BYTES

    return MAX_SOURCE_BYTES + 1


def _validation_json(validation: Validation, lang: str) -> dict[str, Any]:
    return {
        "ok": validation.ok,
        "findings": [_finding(f, lang) for f in validation.findings],
        "message": (str(_l("The checks pass: %(process_id)s (%(name)s) can be deployed.",
                           process_id=validation.process_id, name=validation.name)) if validation.ok else ""),
    }  # fmt: skip


def modeler_words() -> dict[str, str]:
    """The modeler's own words (its panel and buttons), in the console's language."""
    return {key: str(text) for key, text in _MODELER_WORDS.items()}


_MODELER_WORDS: dict[str, Any] = {
    "name": _l("Name"),
    "name_en": _l("Name in English (shown on English pages)"),
    "process_name_en": _l("The process's name in English (shown on English pages)"),
    "id": _l("Id"),
    "role": _l("Role of the lane"),
    "decisions": _l("Decisions offered (each brings its form)"),
    "case_status": _l("Case status while it waits"),
    "assignee_from": _l("Assignee taken from the data (加签)"),
    "operation": _l("Service operation"),
    "parameters": _l("Parameters (expressions)"),
    "result_variable": _l("Result variable"),
    "timer": _l("Timer"),
    "duration": _l("Duration"),
    "date": _l("Date"),
    "cycle": _l("Cycle"),
    "interrupting": _l("Interrupts the activity"),
    "timer_written": _l("“{written}” is written {iso}, as BPMN reads a duration (ISO 8601)."),
    "message": _l("Message"),
    "message_variable": _l("Variable of the message's content"),
    "error": _l("Error"),
    "error_code": _l("Error code"),
    "condition": _l("Condition (expression)"),
    "outcome": _l("Outcome of the case"),
    "decision_table": _l("Decision table"),
    "called_process": _l("Called process"),
    "called_version": _l("Version (empty: the latest when deployed)"),
    "loop_input": _l("Goes through the collection (variable)"),
    "loop_output": _l("Collects the results in (variable)"),
    "none": _l("(none)"),
    "new": _l("New…"),
    "nothing": _l("Select an element of the diagram to edit what Huiju reads in it."),
    "checking": _l("Checking…"),
    "deploying": _l("Deploying…"),
    "failed": _l("The request failed:"),
    "problems": _l("Problems found:"),
    "confirm_deploy": _l("Deploy this diagram as a new version? Running cases stay on their versions."),
    "not_valid": _l("The diagram cannot be read:"),
    "lost": _l("Careful: the modeler cannot keep some of this file's content; saving or deploying would drop it:"),
}


def _deployed(created: bool, process_id: str, version: int) -> str:
    if created:
        return str(_l("Deployed %(process_id)s version %(version)s.", process_id=process_id, version=version))
    return str(_l("Unchanged: %(process_id)s version %(version)s has the same content.", process_id=process_id,
                  version=version))  # fmt: skip
