CREATE TABLE `knowledge_bases` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`embedding` text NOT NULL,
	`chunking` text NOT NULL,
	`shards` integer DEFAULT 1 NOT NULL,
	`created_by` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`updated_at` text NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `knowledge_bases_tenant_idx` ON `knowledge_bases` (`tenant_id`,`id`);--> statement-breakpoint
CREATE TABLE `knowledge_documents` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`knowledge_base_id` text NOT NULL,
	`source` text NOT NULL,
	`title` text NOT NULL,
	`content_type` text NOT NULL,
	`metadata` text NOT NULL,
	`status` text NOT NULL,
	`version` integer NOT NULL,
	`indexed_version` integer,
	`bytes` integer NOT NULL,
	`chunks` integer DEFAULT 0 NOT NULL,
	`error` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`updated_at` text NOT NULL,
	`indexed_at` text,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`knowledge_base_id`) REFERENCES `knowledge_bases`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `knowledge_documents_source_uq` ON `knowledge_documents` (`knowledge_base_id`,`source`);--> statement-breakpoint
CREATE INDEX `knowledge_documents_kb_idx` ON `knowledge_documents` (`tenant_id`,`knowledge_base_id`,`id`);