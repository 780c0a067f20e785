package web

import "net/http"

// table is every route of the interface with who may call it; access_test.go holds the
// whole table.
func (h *Handler) table() []route {
	return []route{
		{method: "GET", path: "/MAAS/r/static/{file}", access: anyone, noSession: true, fn: serveStatic},
		{method: "GET", path: "/MAAS/r/login", access: anyone, fn: loginPage},
		{method: "POST", path: "/MAAS/r/login", access: anyone, ownCSRF: true, body: 8 << 10, fn: login},
		{method: "POST", path: "/MAAS/r/logout", access: userOnly, fn: logout},
		{method: "GET", path: "/MAAS/r/{$}", access: userOnly, fn: home},
		{method: "GET", path: "/MAAS/r/machines", access: userOnly, fn: machinesPage},
		{method: "POST", path: "/MAAS/r/machines/action", access: adminOnly, fn: machinesAction},
		{method: "GET", path: "/MAAS/r/machines/{system_id}", access: userOnly, fn: machinePage},
		{method: "GET", path: "/MAAS/r/machines/{system_id}/live", access: userOnly, fn: machineLive},
		{method: "GET", path: "/MAAS/r/machines/{system_id}/results/{result_id}", access: userOnly, fn: resultPage},
		{method: "GET", path: "/MAAS/r/scripts", access: userOnly, fn: scriptsPage},
		{method: "POST", path: "/MAAS/r/scripts", access: adminOnly, body: h.opts.MaxScriptUpload + 64<<10, fn: uploadScript},
		{method: "GET", path: "/MAAS/r/scripts/{name}", access: userOnly, fn: scriptPage},
		{method: "GET", path: "/MAAS/r/scripts/{name}/diff", access: userOnly, fn: scriptDiff},
		{method: "GET", path: "/MAAS/r/settings", access: adminOnly, fn: settingsPage},
		{method: "POST", path: "/MAAS/r/settings", access: adminOnly, fn: saveSettings},
	}
}

func home(p *page) error {
	http.Redirect(p.w, p.r, "/MAAS/r/machines", http.StatusSeeOther)
	return nil
}
