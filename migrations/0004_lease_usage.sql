CREATE TABLE "lease_usage" (
	"agent_issuer" text NOT NULL,
	"agent" text NOT NULL,
	"template" text NOT NULL,
	"live" integer NOT NULL,
	CONSTRAINT "lease_usage_agent_issuer_agent_template_pk" PRIMARY KEY("agent_issuer","agent","template")
);
--> statement-breakpoint
-- The counted states are pending_approval, issuing and active (PENDING_OR_LIVE_STATES). Each
-- statement on leases adds what it moved into them and subtracts what it moved out, per agent
-- (template '') and per agent and template, in key order: the same order jit_take_lease_slots
-- locks rows in, so a revocation and an issuance never deadlock on an agent's rows.
CREATE FUNCTION jit_count_lease_usage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO lease_usage AS u (agent_issuer, agent, template, live)
    SELECT agent_issuer, agent, coalesce(template, ''), count(*)::int
    FROM new_leases WHERE state IN ('pending_approval', 'issuing', 'active')
    GROUP BY GROUPING SETS ((agent_issuer, agent), (agent_issuer, agent, template))
    ORDER BY 1, 2, 3
    ON CONFLICT (agent_issuer, agent, template) DO UPDATE SET live = u.live + excluded.live;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO lease_usage AS u (agent_issuer, agent, template, live)
    SELECT agent_issuer, agent, coalesce(template, ''), sum(n)::int FROM (
      SELECT agent_issuer, agent, template, 1 AS n FROM new_leases
      WHERE state IN ('pending_approval', 'issuing', 'active')
      UNION ALL
      SELECT agent_issuer, agent, template, -1 FROM old_leases
      WHERE state IN ('pending_approval', 'issuing', 'active')
    ) c
    GROUP BY GROUPING SETS ((agent_issuer, agent), (agent_issuer, agent, template))
    HAVING sum(n) <> 0
    ORDER BY 1, 2, 3
    ON CONFLICT (agent_issuer, agent, template) DO UPDATE SET live = u.live + excluded.live;
  ELSE
    INSERT INTO lease_usage AS u (agent_issuer, agent, template, live)
    SELECT agent_issuer, agent, coalesce(template, ''), -count(*)::int
    FROM old_leases WHERE state IN ('pending_approval', 'issuing', 'active')
    GROUP BY GROUPING SETS ((agent_issuer, agent), (agent_issuer, agent, template))
    ORDER BY 1, 2, 3
    ON CONFLICT (agent_issuer, agent, template) DO UPDATE SET live = u.live + excluded.live;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER leases_usage_insert AFTER INSERT ON leases REFERENCING NEW TABLE AS new_leases
  FOR EACH STATEMENT EXECUTE FUNCTION jit_count_lease_usage();
--> statement-breakpoint
CREATE TRIGGER leases_usage_update AFTER UPDATE ON leases
  REFERENCING OLD TABLE AS old_leases NEW TABLE AS new_leases
  FOR EACH STATEMENT EXECUTE FUNCTION jit_count_lease_usage();
--> statement-breakpoint
CREATE TRIGGER leases_usage_delete AFTER DELETE ON leases REFERENCING OLD TABLE AS old_leases
  FOR EACH STATEMENT EXECUTE FUNCTION jit_count_lease_usage();
--> statement-breakpoint
-- Called in the statement that writes new leases, before its insert trigger counts them: locks
-- each agent's rows (creating them at 0 if new) and refuses the whole statement with SQLSTATE
-- JL001 when the leases would pass a cap. `slots`: [{agent_issuer, agent, template, n, cap,
-- template_cap}], template_cap null when the template sets none. The row lock is held to commit,
-- so replicas queue on it and each sees the count the one before committed.
CREATE FUNCTION jit_take_lease_slots(slots jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  s record;
  held integer;
BEGIN
  FOR s IN
    SELECT k.agent_issuer, k.agent, k.template, sum(k.n)::int AS n, min(k.cap)::int AS cap
    FROM (
      SELECT x.agent_issuer, x.agent, '' AS template, x.n, x.cap
      FROM jsonb_to_recordset(slots) AS x(agent_issuer text, agent text, template text, n int, cap int, template_cap int)
      UNION ALL
      SELECT x.agent_issuer, x.agent, x.template, x.n, x.template_cap
      FROM jsonb_to_recordset(slots) AS x(agent_issuer text, agent text, template text, n int, cap int, template_cap int)
      WHERE x.template_cap IS NOT NULL
    ) k
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  LOOP
    INSERT INTO lease_usage (agent_issuer, agent, template, live)
    VALUES (s.agent_issuer, s.agent, s.template, 0) ON CONFLICT DO NOTHING;
    SELECT u.live INTO held FROM lease_usage u
    WHERE u.agent_issuer = s.agent_issuer AND u.agent = s.agent AND u.template = s.template FOR UPDATE;
    IF held + s.n > s.cap THEN
      RAISE EXCEPTION USING ERRCODE = 'JL001',
        MESSAGE = format('lease limit reached: %s of %s live', held, s.cap),
        DETAIL = json_build_object('agent_issuer', s.agent_issuer, 'agent', s.agent,
          'template', nullif(s.template, ''), 'live', held, 'cap', s.cap)::text;
    END IF;
  END LOOP;
END $$;
--> statement-breakpoint
INSERT INTO lease_usage (agent_issuer, agent, template, live)
SELECT agent_issuer, agent, coalesce(template, ''), count(*)::int
FROM leases WHERE state IN ('pending_approval', 'issuing', 'active')
GROUP BY GROUPING SETS ((agent_issuer, agent), (agent_issuer, agent, template));
