# EventBridge Scheduler drives the daily cycle (SPEC §2) by enqueueing
# {"type": "cycle.tick"} on q-settlement-compute, whose worker runs the self-healing
# reconcile (batch/handlers/settlement_compute.py: handle_cycle_tick, the same as
# POST /internal/cycle/tick and one step of `python -m batch.scheduler`, the local
# stand-in). The tick does whatever is due and not done, so a missed, late or doubled
# message changes nothing; the nudges only make the cycle react on the minute.
#
# All schedules use Scheduler's universal SQS target (SendMessage) and the timezone
# Asia/Seoul. Cron times are KST; the US market moves by an hour between summer (EDT)
# and winter (EST), so each nudge fires at both candidate hours and the one at which
# nothing is due is a no-op tick:
#
#   cutoff      open 09:30 ET - PREDICT_CUTOFF_MARGIN_MIN (5) = 22:25 KST summer / 23:25 winter
#   post-close  close 16:00 ET + EOD_FETCH_DELAY_MIN (15)     = 05:15 KST summer / 06:15 winter
#
# (Early closes, holidays and every later step — VOID deadline, retries, the next open —
# are picked up by the regular tick.)

data "aws_caller_identity" "current" {}

locals {
  scheduler_state = var.scheduler_enabled ? "ENABLED" : "DISABLED"

  cycle_tick_queue_key = "settlement_compute"

  # The worker's envelope (batch/worker.py: parse_envelope); the handler ignores the payload.
  cycle_tick_input = jsonencode({
    type    = "cycle.tick"
    version = 1
    payload = {}
  })

  cycle_schedules = {
    "cycle-tick" = {
      description = "Cycle tick: the self-healing reconcile of the daily cycle (idempotent)."
      expression  = "rate(${var.cycle_tick_rate_minutes} ${var.cycle_tick_rate_minutes == 1 ? "minute" : "minutes"})"
    }
    "cycle-nudge-cutoff" = {
      description = "Cycle tick just after the predict cutoff: 22:25 KST (summer) / 23:25 KST (winter), Mon-Fri."
      expression  = "cron(26 22,23 ? * MON-FRI *)"
    }
    "cycle-nudge-post-close" = {
      description = "Cycle tick when the EOD fetch becomes due: close + 15 min, 05:15 KST (summer) / 06:15 KST (winter), Tue-Sat."
      expression  = "cron(16 5,6 ? * TUE-SAT *)"
    }
  }
}

# A group of our own: per-environment schedule names, tags (schedules take none), and the
# group ARN that scopes the execution role's trust policy.
resource "aws_scheduler_schedule_group" "cycle" {
  name = "oxuniverse-${var.environment}"
}

# Execution role: Scheduler assumes it to send the message (and, when a send fails after
# the retries, the dead-letter event).
data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    sid     = "SchedulerAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    # Confused-deputy protection: only schedules of this account, in this group.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_scheduler_schedule_group.cycle.arn]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "oxuniverse-${var.environment}-scheduler"
  description        = "EventBridge Scheduler: enqueue cycle.tick on the settlement-compute queue."
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

# SendMessage on the target queue, and on its DLQ because Scheduler delivers its
# dead-letter events with the same execution role. Nothing else.
data "aws_iam_policy_document" "scheduler_send" {
  statement {
    sid     = "EnqueueCycleTick"
    actions = ["sqs:SendMessage"]
    resources = [
      aws_sqs_queue.queue[local.cycle_tick_queue_key].arn,
      aws_sqs_queue.dlq[local.cycle_tick_queue_key].arn,
    ]
  }
}

resource "aws_iam_role_policy" "scheduler_send" {
  name   = "enqueue-cycle-tick"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler_send.json
}

resource "aws_scheduler_schedule" "cycle" {
  for_each = local.cycle_schedules

  name                         = each.key
  group_name                   = aws_scheduler_schedule_group.cycle.name
  description                  = each.value.description
  schedule_expression          = each.value.expression
  schedule_expression_timezone = "Asia/Seoul"
  state                        = local.scheduler_state

  flexible_time_window {
    mode = "OFF"
  }

  target {
    # A standard queue: no sqs_parameters (message_group_id is for FIFO targets only).
    arn      = aws_sqs_queue.queue[local.cycle_tick_queue_key].arn
    role_arn = aws_iam_role.scheduler.arn
    input    = local.cycle_tick_input

    retry_policy {
      maximum_retry_attempts       = 3
      maximum_event_age_in_seconds = 600
    }

    # Must be a standard queue (Scheduler rejects FIFO DLQs): q-settlement-compute-dlq is.
    dead_letter_config {
      arn = aws_sqs_queue.dlq[local.cycle_tick_queue_key].arn
    }
  }

  # The role must be able to send before the first invocation.
  depends_on = [aws_iam_role_policy.scheduler_send]
}
