"""Task specs that Huiju adds to SpiffWorkflow's, and the parser and serializer that know them."""

from __future__ import annotations

import uuid
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser
from SpiffWorkflow.spiff.specs.defaults import ServiceTask

#: Where a waiting service task keeps the id of its outbox message (its internal data).
MESSAGE_ID = "message_id"


class AsyncServiceTask(ServiceTask):  # type: ignore[misc]
    """A service task that never calls the network inside an engine step.

    When it runs, it evaluates its parameters and records a service request on the script engine;
    the task then stays STARTED, with the id of its outbox message in its internal data (so that
    the engine knows, from the state alone, which message each waiting task waits for). The runner
    writes the request to the outbox in the same transaction, and completes the task (or raises the
    BPMN error ``service_failed``) when the worker brings the reply back.
    """

    def _execute(self, task: Any) -> None:
        params = {name: p["value"] for name, p in self.evaluate_params(task).items()}
        message_id = str(uuid.uuid4())
        task.internal_data[MESSAGE_ID] = message_id
        task.workflow.script_engine.service_requests.append(
            {
                "message_id": message_id,
                "task_id": str(task.id),
                "step": self.bpmn_id,
                "step_name": self.bpmn_name or self.bpmn_id,
                "operation": self.operation_name,
                "params": params,
                "result_variable": self.result_variable,
            }
        )
        return None


class HuijuBpmnParser(SpiffBpmnParser):  # type: ignore[misc]
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        **{
            tag: (ServiceTaskParser, AsyncServiceTask)
            for tag, (parser, _spec) in SpiffBpmnParser.OVERRIDE_PARSER_CLASSES.items()
            if parser is ServiceTaskParser
        },
    }


def connect_loops(*specs: Any) -> None:
    """Join each loop or multi-instance task to the spec of its instances, once per parsed spec.

    SpiffWorkflow joins them when a loop creates an instance, in that process only, and again when
    its serializer restores a spec. Huiju keeps specs out of the stored state and takes them from the
    parser, so without this an instance created by one process (the web) and finished by another (the
    worker) would never be merged into its loop, and the loop would never go on.
    """
    for spec in specs:
        for task_spec in spec.task_specs.values():
            if isinstance(task_spec, LoopTask):
                child = spec.task_specs.get(task_spec.task_spec)
                if child is not None and not child.completed_event.is_connected(task_spec.merge_child):
                    child.completed_event.connect(task_spec.merge_child)
