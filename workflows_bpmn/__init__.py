"""The BPMN engine over SpiffWorkflow 3.2: deploy, run, persist, index human tasks, wake timers."""
