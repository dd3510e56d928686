CREATE TABLE `tool_invocations` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`tool_id` text NOT NULL,
	`version` integer NOT NULL,
	`source` text NOT NULL,
	`outcome` text NOT NULL,
	`duration_ms` integer NOT NULL,
	`input_bytes` integer NOT NULL,
	`output_bytes` integer NOT NULL,
	`log_bytes` integer NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `tool_invocations_tool_idx` ON `tool_invocations` (`tenant_id`,`tool_id`,`id`);--> statement-breakpoint
CREATE TABLE `tool_versions` (
	`tool_id` text NOT NULL,
	`version` integer NOT NULL,
	`tenant_id` text NOT NULL,
	`runtime` text NOT NULL,
	`code` text NOT NULL,
	`input_schema` text NOT NULL,
	`output_schema` text,
	`timeout_ms` integer NOT NULL,
	`memory_mb` integer NOT NULL,
	`network` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	PRIMARY KEY(`tool_id`, `version`),
	FOREIGN KEY (`tool_id`) REFERENCES `tools`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `tool_versions_tenant_idx` ON `tool_versions` (`tenant_id`,`tool_id`);--> statement-breakpoint
CREATE TABLE `tools` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`latest_version` integer NOT NULL,
	`created_by` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`updated_at` text NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tools_name_uq` ON `tools` (`tenant_id`,`name`);--> statement-breakpoint
CREATE INDEX `tools_tenant_idx` ON `tools` (`tenant_id`,`id`);