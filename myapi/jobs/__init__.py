"""Every batch step, defined once: the runner that records `job_runs`, and the job
definitions that /internal, /admin, the SQS handlers and the scheduler all call."""
