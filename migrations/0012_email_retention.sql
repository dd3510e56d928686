CREATE INDEX `email_deliveries_done_idx` ON `email_deliveries` (`status`,`updated_at`);--> statement-breakpoint
CREATE INDEX `email_verifications_expires_idx` ON `email_verifications` (`expires_at`);