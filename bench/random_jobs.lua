-- wrk script: every request GETs another job, picked at random among all the stored ones.
--
--   WRK_JOBS=1000000 WRK_JOB_PATH=/paas/api/v1.1/activitylog/Domain/job/ \
--       wrk -t1 -c64 -d10s -s bench/random_jobs.lua -H 'Authorization: ...' http://host:port
--
-- WRK_JOBS: job ids run from 1 to this. WRK_JOB_PATH: the path before the id.
-- WRK_SPREAD (optional): ask only for this many jobs, spread evenly over the ids (default:
-- all), so that the jobs polled are as many, and as mixed, whatever the number stored.
-- WRK_DELAY_MS (optional): each connection waits this long between its requests, which caps
-- the rate at connections * 1000 / WRK_DELAY_MS requests per second.

local jobs = tonumber(os.getenv("WRK_JOBS"))
local job_path = os.getenv("WRK_JOB_PATH")
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0")

if jobs == nil or job_path == nil then
    error("set WRK_JOBS and WRK_JOB_PATH")
end

local spread = tonumber(os.getenv("WRK_SPREAD") or os.getenv("WRK_JOBS"))
local stride = math.floor(jobs / spread)

local threads = 0

function setup(thread)
    threads = threads + 1
    thread:set("seed", threads)
end

function init(args)
    math.randomseed(os.time() * 1000 + (seed or 0))
end

function request()
    return wrk.format("GET", job_path .. (math.random(0, spread - 1) * stride + 1))
end

if delay_ms > 0 then
    function delay()
        return delay_ms
    end
end
