CREATE TABLE `dead_letters` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text,
	`queue` text NOT NULL,
	`kind` text NOT NULL,
	`body` text NOT NULL,
	`status` text NOT NULL,
	`deaths` integer DEFAULT 1 NOT NULL,
	`redrives` integer DEFAULT 0 NOT NULL,
	`next_redrive_at` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `dead_letters_due_idx` ON `dead_letters` (`status`,`next_redrive_at`);--> statement-breakpoint
CREATE INDEX `dead_letters_tenant_idx` ON `dead_letters` (`tenant_id`,`id`);--> statement-breakpoint
CREATE INDEX `audit_log_created_idx` ON `audit_log` (`created_at`);--> statement-breakpoint
CREATE INDEX `invitations_expires_idx` ON `invitations` (`expires_at`);--> statement-breakpoint
CREATE INDEX `runs_status_updated_idx` ON `runs` (`status`,`updated_at`);--> statement-breakpoint
CREATE INDEX `runs_finished_idx` ON `runs` (`finished_at`);--> statement-breakpoint
CREATE INDEX `tool_invocations_created_idx` ON `tool_invocations` (`created_at`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_done_idx` ON `webhook_deliveries` (`status`,`updated_at`);