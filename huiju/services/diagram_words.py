"""The copy of a BPMN diagram served for reading (case, version and comparison viewers): its lanes
named by the role whose tasks they hold, and, for a reader in English, its steps, flows and pools by
their English names (the ``name_en`` property). The modeler and downloads get the source unchanged.

A lane's name is the role's code (``community_officer``): the engine needs the code, a person
reading the diagram needs the words (社区专干).
"""

from __future__ import annotations

from lxml import etree

from huiju.i18n import normalize
from huiju.labels import known, label
from workflows_bpmn.step_names import own_english_name

_BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def in_words(xml: str, locale: str | None) -> str:
    """``xml`` (a deployed BPMN file) with its names for a reader in ``locale``."""
    # A deployed definition, checked at deploy time; parsed without entities, DTDs or network all the same.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    root = etree.fromstring(xml.encode("utf-8"), parser)
    for lane in root.iter(f"{{{_BPMN}}}lane", f"{{{_BPMN}}}participant"):
        name = lane.get("name")
        if name and known("role", name):
            lane.set("name", label("role", name, locale))
    if normalize(locale) == "en":
        processes = {p.get("id"): p for p in root.iter(f"{{{_BPMN}}}process")}
        for element in root.iter(f"{{{_BPMN}}}*"):
            if not element.get("name"):
                continue
            named = (
                processes.get(element.get("processRef")) if etree.QName(element).localname == "participant" else None
            )
            english = own_english_name(named if named is not None else element)  # a pool: its process's name
            if english:
                element.set("name", english)
    return str(etree.tostring(root, encoding="unicode"))
