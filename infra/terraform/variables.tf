variable "environment" {
  description = "Environment name (dev, staging, prod, ...). Tags every resource and, unless queue_prefix is set, prefixes every queue name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.environment))
    error_message = "environment must be 1-20 characters: lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "region" {
  description = "AWS region of the queues (the app's AWS_REGION)."
  type        = string
  default     = "ap-northeast-2"
}

variable "queue_prefix" {
  description = "Prefix of every queue name, the app's QUEUE_PREFIX. null (the default) means \"<environment>-\"; \"\" means no prefix."
  type        = string
  default     = null

  validation {
    condition     = var.queue_prefix == null || can(regex("^[A-Za-z0-9_-]{0,30}$", var.queue_prefix))
    error_message = "queue_prefix may contain only letters, digits, hyphens and underscores (SQS queue names allow no dots except the .fifo suffix), at most 30 characters."
  }
}

variable "max_receive_count" {
  description = "Deliveries of a message before SQS moves it to the DLQ (the app's SQS_MAX_RECEIVE_COUNT)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "visibility_timeout" {
  description = "Visibility timeout of the main queues in seconds (the app's SQS_VISIBILITY_TIMEOUT_S); workers extend it for long jobs."
  type        = number
  default     = 60

  validation {
    condition     = var.visibility_timeout >= 0 && var.visibility_timeout <= 43200
    error_message = "visibility_timeout must be between 0 and 43200 seconds (12 hours)."
  }
}

variable "message_retention_seconds" {
  description = "Message retention of the main queues in seconds (the app's SQS_MESSAGE_RETENTION_S; default 4 days). DLQs always keep messages 14 days."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600 seconds (14 days)."
  }
}

variable "receive_wait_time_seconds" {
  description = "Long polling wait of every queue in seconds (the app's SQS_WAIT_TIME_S)."
  type        = number
  default     = 20

  validation {
    condition     = var.receive_wait_time_seconds >= 0 && var.receive_wait_time_seconds <= 20
    error_message = "receive_wait_time_seconds must be between 0 and 20."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "scheduler_enabled" {
  description = "State of the EventBridge Scheduler schedules that drive the cycle: true = ENABLED, false = DISABLED (paused; the schedules stay defined)."
  type        = bool
  default     = true
}

variable "cycle_tick_rate_minutes" {
  description = "Minutes between two cycle.tick messages of the cycle-tick schedule (rate expression); the local stand-in's SCHEDULER_TICK_INTERVAL_S."
  type        = number
  default     = 5

  validation {
    condition     = var.cycle_tick_rate_minutes >= 1 && var.cycle_tick_rate_minutes <= 60 && floor(var.cycle_tick_rate_minutes) == var.cycle_tick_rate_minutes
    error_message = "cycle_tick_rate_minutes must be a whole number between 1 and 60."
  }
}
