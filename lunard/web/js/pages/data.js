// Data tab: the function's own KV store and the global one, each saved as a full set.
import {api} from "../api.js";
import {t, addStrings} from "../i18n.js";
import {toast} from "../ui.js";
import {KvEditor} from "../kv_editor.js";

addStrings("en", {
  "data.scoped": "Function Store",
  "data.scopedHelp": "Read with kv.get(key) from this function",
  "data.global": "Global Store",
  "data.globalHelp": "Shared by all functions: kv.getGlobal(key)",
  "data.add": "Add Entry",
  "data.saved": "Data saved successfully",
});
addStrings("pt-BR", {
  "data.scoped": "Armazenamento da função",
  "data.scopedHelp": "Leia com kv.get(chave) nesta função",
  "data.global": "Armazenamento global",
  "data.globalHelp": "Compartilhado por todas as funções: kv.getGlobal(chave)",
  "data.add": "Adicionar entrada",
  "data.saved": "Dados salvos com sucesso",
});

export default {
  view: ({attrs}) => {
    const save = (global) => async (entries) => {
      await api("POST", `/api/functions/${encodeURIComponent(attrs.id)}/kv`, {global, kvEntries: entries});
      toast(t("data.saved"));
    };
    return m(".stack", [
      m(KvEditor, {title: t("data.scoped"), subtitle: t("data.scopedHelp"), initial: attrs.fn.scoped_data,
        onsave: save(false), addLabel: t("data.add"), testid: "kv-scoped",
        ids: {add: "kv-scoped-add", save: "kv-scoped-save", key: "kv-key", value: "kv-value"}}),
      m(KvEditor, {title: t("data.global"), subtitle: t("data.globalHelp"), initial: attrs.fn.global_data,
        onsave: save(true), addLabel: t("data.add"), testid: "kv-global",
        ids: {add: "kv-global-add", save: "kv-global-save", key: "kv-key", value: "kv-value"}}),
    ]);
  },
};
