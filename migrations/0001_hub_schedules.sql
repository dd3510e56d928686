CREATE TABLE `hub_schedules` (
	`tenant_id` text PRIMARY KEY NOT NULL,
	`next_due_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `hub_schedules_due_idx` ON `hub_schedules` (`next_due_at`);