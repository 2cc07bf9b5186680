# The app's queues (SPEC §7), each with its dead-letter queue and redrive policy: the
# same set and the same naming rule as myapi/providers/queue/setup.py, which creates them
# for local development (`python -m batch.queues ensure`).
#
#   q-x       -> DLQ q-x-dlq
#   q-x.fifo  -> DLQ q-x-dlq.fifo   (the DLQ of a FIFO queue must be FIFO too)
#
# SQS names allow only letters, digits, hyphens and underscores (plus the .fifo suffix),
# so the SPEC's dotted names (q.eod.fetch) are spelled with hyphens (q-eod-fetch).
#
# FIFO queues: fifo_queue = true and content_based_deduplication = false (producers set
# MessageDeduplicationId explicitly). On standard queues both are left unset (null): SQS
# rejects the ContentBasedDeduplication attribute on a standard queue, even as "false".

locals {
  queue_prefix = var.queue_prefix == null ? "${var.environment}-" : var.queue_prefix

  # Settings.queue_names key -> queue name without prefix (the Settings defaults): the
  # queues a worker consumes (myapi/events/catalogue.py consumed_queues()). The
  # prediction and points events have no queue (infra/terraform/README.md); an apply
  # removes the prediction-submit and points-award queues an earlier apply created.
  queue_base_names = {
    eod_fetch          = "q-eod-fetch"
    settlement_compute = "q-settlement-compute"
    rewards_saga       = "q-rewards-saga"
  }

  queues = {
    for key, base in local.queue_base_names : key => {
      fifo     = endswith(base, ".fifo")
      name     = "${local.queue_prefix}${base}"
      dlq_name = endswith(base, ".fifo") ? "${local.queue_prefix}${trimsuffix(base, ".fifo")}-dlq.fifo" : "${local.queue_prefix}${base}-dlq"
    }
  }

  # 14 days, the SQS maximum: time to inspect and redrive (setup.py DLQ_RETENTION_S).
  dlq_message_retention_seconds = 1209600
}

resource "aws_sqs_queue" "dlq" {
  for_each = local.queues

  name                        = each.value.dlq_name
  fifo_queue                  = each.value.fifo ? true : null
  content_based_deduplication = each.value.fifo ? false : null
  message_retention_seconds   = local.dlq_message_retention_seconds
  receive_wait_time_seconds   = var.receive_wait_time_seconds
  sqs_managed_sse_enabled     = true

  tags = {
    QueueKey = each.key
    Role     = "dlq"
  }
}

resource "aws_sqs_queue" "queue" {
  for_each = local.queues

  name                        = each.value.name
  fifo_queue                  = each.value.fifo ? true : null
  content_based_deduplication = each.value.fifo ? false : null
  visibility_timeout_seconds  = var.visibility_timeout
  message_retention_seconds   = var.message_retention_seconds
  receive_wait_time_seconds   = var.receive_wait_time_seconds
  sqs_managed_sse_enabled     = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = {
    QueueKey = each.key
    Role     = "main"
  }
}

# Each DLQ accepts dead letters from its own queue only. A separate resource, because
# the queue already refers to the DLQ (redrive_policy) and the reverse would be a cycle.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = local.queues

  queue_url = aws_sqs_queue.dlq[each.key].id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.queue[each.key].arn]
  })
}

# What the API, the workers, the outbox relay and `batch.queues status` call. Nothing is
# attached here: the ECS task roles that use it come with the ECS issue (see outputs).
data "aws_iam_policy_document" "app_sqs" {
  statement {
    sid = "UseAppQueues"
    actions = [
      "sqs:GetQueueUrl",
      "sqs:GetQueueAttributes",
      "sqs:SendMessage",
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
    ]
    resources = concat(
      [for q in aws_sqs_queue.queue : q.arn],
      [for q in aws_sqs_queue.dlq : q.arn],
    )
  }
}
