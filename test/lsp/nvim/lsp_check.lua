-- Neovim (0.7+) as a second, independent LSP client: starts dist/server.js over stdio on the
-- current buffer, waits for Lineage diagnostics and a hover, and writes what arrived as JSON.
local server = os.getenv('LINEAGE_SERVER')
local out_file = os.getenv('LINEAGE_OUT')
local hover_line = tonumber(os.getenv('LINEAGE_HOVER_LINE'))
local hover_character = tonumber(os.getenv('LINEAGE_HOVER_CHARACTER'))
local out = { ok = false }

local function finish()
  local file = io.open(out_file, 'w')
  file:write(vim.fn.json_encode(out))
  file:close()
  vim.cmd(out.ok and 'qa!' or 'cquit 1')
end

local ok, err = pcall(function()
  local bufnr = vim.api.nvim_get_current_buf()
  local id = vim.lsp.start_client({
    name = 'lineage',
    cmd = { 'node', server, '--stdio' },
    cmd_env = { HF_HUB_CACHE = os.getenv('HF_HUB_CACHE'), HOME = os.getenv('HOME') },
    root_dir = vim.fn.getcwd(),
    on_exit = function(code, signal) out.server_exit = { code = code, signal = signal } end,
  })
  assert(id, 'client did not start')
  vim.lsp.buf_attach_client(bufnr, id)
  assert(vim.wait(10000, function()
    local client = vim.lsp.get_client_by_id(id)
    return client ~= nil and client.initialized
  end, 20), 'server did not initialize')
  -- Fingerprint-level diagnostics (LL002) arrive after the resolution-level ones (LL003).
  assert(vim.wait(30000, function()
    for _, d in ipairs(vim.diagnostic.get(bufnr)) do
      if d.code == 'LL002' then return true end
    end
    return false
  end, 50), 'no lineage diagnostics arrived')
  out.diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    table.insert(out.diagnostics, { lnum = d.lnum, col = d.col, code = d.code, severity = d.severity, source = d.source })
  end
  local responses = vim.lsp.buf_request_sync(bufnr, 'textDocument/hover', {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = hover_line, character = hover_character },
  }, 10000)
  for _, response in pairs(responses or {}) do
    if response.result and response.result.contents then out.hover = response.result.contents.value end
  end
  assert(out.hover, 'no hover')
  vim.lsp.stop_client(id)
  vim.wait(5000, function() return out.server_exit ~= nil end, 20)
  out.ok = true
end)
if not ok then out.err = tostring(err) end
finish()
