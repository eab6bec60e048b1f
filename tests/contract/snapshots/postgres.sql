CREATE TABLE api_tokens (
    token_id bigint NOT NULL DEFAULT nextval('api_tokens_token_id_seq'::regclass),
    user_id bigint NOT NULL,
    name text COLLATE "C" NOT NULL,
    secret_hash text NOT NULL,
    role text NOT NULL,
    created_by text NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    last_used_at bigint
);
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_pkey PRIMARY KEY (token_id);
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_secret_hash_key UNIQUE (secret_hash);
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_user_id_name_key UNIQUE (user_id, name);
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(user_id) ON DELETE CASCADE;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check CHECK ((role = ANY (ARRAY['viewer'::text, 'operator'::text, 'admin'::text])));

CREATE TABLE audit_events (
    event_id bigint NOT NULL DEFAULT nextval('audit_events_event_id_seq'::regclass),
    domain_id bigint NOT NULL,
    kind text COLLATE "C" NOT NULL,
    actor text NOT NULL,
    address text NOT NULL,
    subject text NOT NULL,
    details text NOT NULL,
    occurred_at bigint NOT NULL,
    last_occurred_at bigint NOT NULL,
    occurrences integer NOT NULL DEFAULT 1,
    hour bigint
);
ALTER TABLE audit_events ADD CONSTRAINT audit_events_pkey PRIMARY KEY (event_id);
ALTER TABLE audit_events ADD CONSTRAINT audit_events_domain_id_fkey FOREIGN KEY (domain_id) REFERENCES identity_domains(domain_id);

CREATE TABLE console_sessions (
    session_hash text NOT NULL,
    user_id bigint NOT NULL,
    user_version integer NOT NULL,
    csrf_token text NOT NULL,
    created_at bigint NOT NULL,
    last_seen_at bigint NOT NULL
);
ALTER TABLE console_sessions ADD CONSTRAINT console_sessions_pkey PRIMARY KEY (session_hash);
ALTER TABLE console_sessions ADD CONSTRAINT console_sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(user_id) ON DELETE CASCADE;

CREATE TABLE credentials_version (
    singleton integer NOT NULL,
    version bigint NOT NULL
);
ALTER TABLE credentials_version ADD CONSTRAINT credentials_version_pkey PRIMARY KEY (singleton);
ALTER TABLE credentials_version ADD CONSTRAINT credentials_version_singleton_check CHECK ((singleton = 1));

CREATE TABLE idempotency_keys (
    domain_id bigint NOT NULL,
    idempotency_key text COLLATE "C" NOT NULL,
    fingerprint text NOT NULL,
    job_id bigint,
    created_at bigint NOT NULL
);
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (domain_id, idempotency_key);
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_domain_id_fkey FOREIGN KEY (domain_id) REFERENCES identity_domains(domain_id);
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_job_id_fkey FOREIGN KEY (job_id) REFERENCES jobs(job_id);

CREATE TABLE identity_domains (
    domain_id bigint NOT NULL DEFAULT nextval('identity_domains_domain_id_seq'::regclass),
    name text COLLATE "C" NOT NULL,
    created_at bigint NOT NULL
);
ALTER TABLE identity_domains ADD CONSTRAINT identity_domains_pkey PRIMARY KEY (domain_id);
ALTER TABLE identity_domains ADD CONSTRAINT identity_domains_name_key UNIQUE (name);

CREATE TABLE job_counts (
    domain_id bigint NOT NULL,
    status text COLLATE "C" NOT NULL,
    service_type text COLLATE "C" NOT NULL,
    shard smallint NOT NULL,
    jobs bigint NOT NULL
);
ALTER TABLE job_counts ADD CONSTRAINT job_counts_pkey PRIMARY KEY (domain_id, status, service_type, shard);

CREATE TABLE job_messages (
    job_id bigint NOT NULL,
    position integer NOT NULL,
    activity_date bigint NOT NULL,
    message text NOT NULL
);
ALTER TABLE job_messages ADD CONSTRAINT job_messages_pkey PRIMARY KEY (job_id, "position");
ALTER TABLE job_messages ADD CONSTRAINT job_messages_job_id_fkey FOREIGN KEY (job_id) REFERENCES jobs(job_id);

CREATE TABLE jobs (
    job_id bigint NOT NULL DEFAULT nextval('jobs_job_id_seq'::regclass),
    activity_log_id bigint NOT NULL,
    domain_id bigint NOT NULL,
    identity_domain text COLLATE "C" NOT NULL,
    service_id bigint NOT NULL,
    service_name text COLLATE "C" NOT NULL,
    service_type text COLLATE "C" NOT NULL,
    operation_type text COLLATE "C" NOT NULL,
    status text COLLATE "C" NOT NULL,
    auth_domain text NOT NULL,
    auth_user text NOT NULL,
    initiated_by text NOT NULL,
    parameters text NOT NULL,
    previous_instance_state text NOT NULL,
    start_date bigint NOT NULL,
    end_date bigint,
    priority integer NOT NULL DEFAULT 0,
    run_after bigint NOT NULL,
    attempt integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 1,
    lease_token text,
    lease_owner text,
    lease_expires_at bigint,
    message_count integer NOT NULL DEFAULT 0,
    version integer NOT NULL DEFAULT 1,
    percent_complete integer,
    backoff_ms bigint NOT NULL DEFAULT 0,
    cancel_requested_by text
);
ALTER TABLE jobs ADD CONSTRAINT jobs_pkey PRIMARY KEY (job_id);
ALTER TABLE jobs ADD CONSTRAINT jobs_activity_log_id_key UNIQUE (activity_log_id);
ALTER TABLE jobs ADD CONSTRAINT jobs_domain_id_fkey FOREIGN KEY (domain_id) REFERENCES identity_domains(domain_id);
ALTER TABLE jobs ADD CONSTRAINT jobs_service_id_fkey FOREIGN KEY (service_id) REFERENCES service_instances(service_id);
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check CHECK ((status = ANY (ARRAY['NEW'::text, 'RUNNING'::text, 'SUCCEED'::text, 'FAILED'::text, 'WARN'::text])));

CREATE TABLE schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at bigint NOT NULL
);
ALTER TABLE schema_migrations ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);

CREATE TABLE service_instances (
    service_id bigint NOT NULL DEFAULT nextval('service_instances_service_id_seq'::regclass),
    domain_id bigint NOT NULL,
    service_type text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    description text NOT NULL DEFAULT ''::text,
    state text NOT NULL,
    parameters text NOT NULL,
    created_by text NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
);
ALTER TABLE service_instances ADD CONSTRAINT service_instances_pkey PRIMARY KEY (service_id);
ALTER TABLE service_instances ADD CONSTRAINT service_instances_domain_id_fkey FOREIGN KEY (domain_id) REFERENCES identity_domains(domain_id);

CREATE TABLE users (
    user_id bigint NOT NULL DEFAULT nextval('users_user_id_seq'::regclass),
    domain_id bigint NOT NULL,
    name text COLLATE "C" NOT NULL,
    password_hash text NOT NULL,
    role text NOT NULL,
    credential_version integer NOT NULL DEFAULT 1,
    created_at bigint NOT NULL
);
ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY (user_id);
ALTER TABLE users ADD CONSTRAINT users_domain_id_name_key UNIQUE (domain_id, name);
ALTER TABLE users ADD CONSTRAINT users_domain_id_fkey FOREIGN KEY (domain_id) REFERENCES identity_domains(domain_id);
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK ((role = ANY (ARRAY['viewer'::text, 'operator'::text, 'admin'::text])));

CREATE INDEX audit_events_by_kind ON public.audit_events USING btree (domain_id, kind, occurred_at);
CREATE INDEX audit_events_by_time ON public.audit_events USING btree (domain_id, occurred_at);
CREATE UNIQUE INDEX audit_events_counted ON public.audit_events USING btree (domain_id, kind, actor, address, hour) WHERE (hour IS NOT NULL);
CREATE INDEX console_sessions_by_last_seen ON public.console_sessions USING btree (last_seen_at);
CREATE INDEX console_sessions_by_user ON public.console_sessions USING btree (user_id, last_seen_at);
CREATE INDEX jobs_by_domain ON public.jobs USING btree (domain_id, job_id);
CREATE INDEX jobs_by_domain_start ON public.jobs USING btree (domain_id, start_date, job_id);
CREATE INDEX jobs_by_end_date ON public.jobs USING btree (domain_id, end_date DESC NULLS LAST, job_id DESC);
CREATE INDEX jobs_by_end_date_ascending ON public.jobs USING btree (domain_id, end_date, job_id);
CREATE INDEX jobs_by_operation_status ON public.jobs USING btree (domain_id, operation_type, status, start_date);
CREATE INDEX jobs_by_operation_type ON public.jobs USING btree (domain_id, operation_type, start_date, job_id);
CREATE INDEX jobs_by_service ON public.jobs USING btree (service_id, job_id);
CREATE INDEX jobs_by_service_name ON public.jobs USING btree (domain_id, service_name, start_date, job_id);
CREATE INDEX jobs_by_service_type ON public.jobs USING btree (domain_id, service_type, start_date, job_id);
CREATE INDEX jobs_by_status ON public.jobs USING btree (domain_id, status, start_date, job_id);
CREATE INDEX jobs_claim_order ON public.jobs USING btree (priority DESC, job_id) WHERE (status = 'NEW'::text);
CREATE UNIQUE INDEX jobs_one_in_flight_per_service ON public.jobs USING btree (service_id) WHERE (status = ANY (ARRAY['NEW'::text, 'RUNNING'::text]));
CREATE INDEX jobs_running_leases ON public.jobs USING btree (lease_expires_at) WHERE (status = 'RUNNING'::text);
CREATE UNIQUE INDEX service_instances_live_name ON public.service_instances USING btree (domain_id, service_type, name) WHERE (state <> 'deleted'::text);

CREATE SEQUENCE activity_log_id_seq AS bigint START 1 INCREMENT 1 MAXVALUE 9223372036854775807;
CREATE SEQUENCE api_tokens_token_id_seq AS bigint START 1 INCREMENT 1 MAXVALUE 9223372036854775807;
CREATE SEQUENCE audit_events_event_id_seq AS bigint START 1 INCREMENT 1 MAXVALUE 9223372036854775807;
CREATE SEQUENCE identity_domains_domain_id_seq AS bigint START 1 INCREMENT 1 MAXVALUE 9223372036854775807;
CREATE SEQUENCE jobs_job_id_seq AS bigint START 1 INCREMENT 1 MAXVALUE 9223372036854775807;
CREATE SEQUENCE service_instances_service_id_seq AS bigint START 1 INCREMENT 1 MAXVALUE 9223372036854775807;
CREATE SEQUENCE users_user_id_seq AS bigint START 1 INCREMENT 1 MAXVALUE 9223372036854775807;

CREATE OR REPLACE FUNCTION public.count_job(in_domain bigint, in_status text, in_type text, delta integer)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
    INSERT INTO job_counts (domain_id, status, service_type, shard, jobs)
    VALUES (in_domain, in_status, in_type, pg_backend_pid() % 64, delta)
    ON CONFLICT (domain_id, status, service_type, shard)
    DO UPDATE SET jobs = job_counts.jobs + excluded.jobs;
END
$function$;

CREATE OR REPLACE FUNCTION public.count_job_changes()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM count_job(NEW.domain_id, NEW.status, NEW.service_type, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM count_job(OLD.domain_id, OLD.status, OLD.service_type, -1);
    ELSIF (OLD.domain_id, OLD.status, OLD.service_type)
          IS DISTINCT FROM (NEW.domain_id, NEW.status, NEW.service_type) THEN
        -- The two rows in one order, so that two transactions moving jobs both ways (a claim,
        -- NEW to RUNNING; a requeue, RUNNING to NEW) cannot deadlock on them.
        IF (OLD.domain_id, OLD.status, OLD.service_type)
           < (NEW.domain_id, NEW.status, NEW.service_type) THEN
            PERFORM count_job(OLD.domain_id, OLD.status, OLD.service_type, -1);
            PERFORM count_job(NEW.domain_id, NEW.status, NEW.service_type, 1);
        ELSE
            PERFORM count_job(NEW.domain_id, NEW.status, NEW.service_type, 1);
            PERFORM count_job(OLD.domain_id, OLD.status, OLD.service_type, -1);
        END IF;
    END IF;
    RETURN NULL;
END
$function$;

CREATE TRIGGER job_counts_follow_jobs AFTER INSERT OR DELETE OR UPDATE OF domain_id, status, service_type ON public.jobs FOR EACH ROW EXECUTE FUNCTION count_job_changes();
