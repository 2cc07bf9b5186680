"""Operating the SQS queues: depths, dead-letter inspection and redrive (QueueService),
for `GET/POST /admin/queues/...` and `python -m batch.queues` alike."""
