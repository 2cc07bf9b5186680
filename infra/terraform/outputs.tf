output "queue_prefix" {
  description = "The prefix applied to every queue name: set it as the app's QUEUE_PREFIX."
  value       = local.queue_prefix
}

output "queue_names" {
  description = "Settings.queue_names key -> queue name."
  value       = { for key, q in aws_sqs_queue.queue : key => q.name }
}

output "queue_urls" {
  description = "Settings.queue_names key -> queue URL."
  value       = { for key, q in aws_sqs_queue.queue : key => q.url }
}

output "queue_arns" {
  description = "Settings.queue_names key -> queue ARN."
  value       = { for key, q in aws_sqs_queue.queue : key => q.arn }
}

output "dlq_urls" {
  description = "Settings.queue_names key -> URL of its dead-letter queue."
  value       = { for key, q in aws_sqs_queue.dlq : key => q.url }
}

output "dlq_arns" {
  description = "Settings.queue_names key -> ARN of its dead-letter queue."
  value       = { for key, q in aws_sqs_queue.dlq : key => q.arn }
}

output "app_sqs_policy_json" {
  description = "IAM policy (JSON) granting the app what it needs on these queues; attach it to the ECS task roles."
  value       = data.aws_iam_policy_document.app_sqs.json
}

output "scheduler_group_name" {
  description = "EventBridge Scheduler schedule group holding the cycle schedules."
  value       = aws_scheduler_schedule_group.cycle.name
}

output "scheduler_schedule_arns" {
  description = "Schedule name -> ARN of the EventBridge Scheduler schedules that enqueue cycle.tick."
  value       = { for name, s in aws_scheduler_schedule.cycle : name => s.arn }
}

output "scheduler_role_arn" {
  description = "ARN of the execution role EventBridge Scheduler assumes to send cycle.tick (and its dead-letter events)."
  value       = aws_iam_role.scheduler.arn
}
