/* Channel settings: the provider list offers only providers that send the chosen channel, and only
 * the chosen provider's secret fields are shown. The server checks the same (the form's clean). */
(function () {
  "use strict";
  function init() {
    const mapNode = document.getElementById("provider-map");
    const channel = document.getElementById("id_channel");
    const provider = document.getElementById("id_provider");
    if (!mapNode || !channel || !provider) return;
    const map = JSON.parse(mapNode.textContent);
    function update() {
      const ch = channel.value;
      Array.from(provider.options).forEach((opt) => {
        const able = !ch || (map[opt.value] && map[opt.value].channels.includes(ch));
        opt.hidden = !able;
        opt.disabled = !able;
      });
      if (provider.selectedOptions[0] && provider.selectedOptions[0].disabled) {
        const first = Array.from(provider.options).find((o) => !o.disabled);
        if (first) provider.value = first.value;
      }
      const secrets = (map[provider.value] || { secrets: [] }).secrets;
      document.querySelectorAll("[class*='field-secret_']").forEach((row) => {
        const name = Array.from(row.classList).find((c) => c.startsWith("field-secret_")).slice("field-secret_".length);
        row.hidden = !secrets.includes(name);
      });
      const clear = document.querySelector(".field-clear_secrets");
      if (clear) clear.hidden = secrets.length === 0;
    }
    channel.addEventListener("change", update);
    provider.addEventListener("change", update);
    update();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
