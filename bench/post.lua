-- wrk script: POST a JSON body read from the file named by the first script argument.
-- Usage: wrk ... -s bench/post.lua URL -- BODY_FILE
-- Headers are those an Anthropic or OpenAI SDK sends that matter to the proxy; the key is
-- bench/variants.py's CLIENT_KEY (the translated server's proxy key).

function init(args)
   local file = assert(io.open(args[1], "rb"))
   wrk.body = file:read("*a")
   file:close()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["anthropic-version"] = "2023-06-01"
   wrk.headers["x-api-key"] = "sk-bench-not-a-real-key"
end
