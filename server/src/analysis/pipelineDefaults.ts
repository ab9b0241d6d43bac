// The models transformers' `pipeline(task)` loads when no model is given (LL007's quick fix names them).
// Copied from SUPPORTED_TASKS in huggingface/transformers src/transformers/pipelines/__init__.py (2025).

export interface PipelineDefault {
  repoId: string;
  /** The revision transformers pins for its default: a short commit hash, as the library writes it. */
  revision: string;
}

/**
 * Task -> default model of the PyTorch pipeline. Older transformers releases used other ids or
 * revisions for some tasks, which is the point of LL007; tasks whose default is a moving branch
 * (`video-to-text` -> `main`) or changes often (`image-text-to-text`, `any-to-any`) are left out.
 */
const TRANSFORMERS_PIPELINE_DEFAULTS: Readonly<Record<string, PipelineDefault>> = {
  'audio-classification': { repoId: 'superb/wav2vec2-base-superb-ks', revision: '372e048' },
  'automatic-speech-recognition': { repoId: 'facebook/wav2vec2-base-960h', revision: '22aad52' },
  'text-to-audio': { repoId: 'suno/bark-small', revision: '1dbd7a1' },
  'feature-extraction': { repoId: 'distilbert/distilbert-base-cased', revision: '6ea8117' },
  'text-classification': { repoId: 'distilbert/distilbert-base-uncased-finetuned-sst-2-english', revision: '714eb0f' },
  'token-classification': { repoId: 'dbmdz/bert-large-cased-finetuned-conll03-english', revision: '4c53496' },
  'question-answering': { repoId: 'distilbert/distilbert-base-cased-distilled-squad', revision: '564e9b5' },
  'table-question-answering': { repoId: 'google/tapas-base-finetuned-wtq', revision: 'e3dde19' },
  'visual-question-answering': { repoId: 'dandelin/vilt-b32-finetuned-vqa', revision: 'd0a1f6a' },
  'document-question-answering': { repoId: 'impira/layoutlm-document-qa', revision: 'beed3c4' },
  'fill-mask': { repoId: 'distilbert/distilroberta-base', revision: 'fb53ab8' },
  summarization: { repoId: 'sshleifer/distilbart-cnn-12-6', revision: 'a4f8f3e' },
  'text2text-generation': { repoId: 'google-t5/t5-base', revision: 'a9723ea' },
  'text-generation': { repoId: 'openai-community/gpt2', revision: '607a30d' },
  'zero-shot-classification': { repoId: 'facebook/bart-large-mnli', revision: 'd7645e1' },
  'zero-shot-image-classification': { repoId: 'openai/clip-vit-base-patch32', revision: '3d74acf' },
  'zero-shot-audio-classification': { repoId: 'laion/clap-htsat-fused', revision: 'cca9e28' },
  'image-classification': { repoId: 'google/vit-base-patch16-224', revision: '3f49326' },
  'image-feature-extraction': { repoId: 'google/vit-base-patch16-224', revision: '3f49326' },
  'image-segmentation': { repoId: 'facebook/detr-resnet-50-panoptic', revision: 'd53b52a' },
  'image-to-text': { repoId: 'ydshieh/vit-gpt2-coco-en', revision: 'e460201' },
  'object-detection': { repoId: 'facebook/detr-resnet-50', revision: '1d5f47b' },
  'zero-shot-object-detection': { repoId: 'google/owlvit-base-patch32', revision: 'cbc355f' },
  'depth-estimation': { repoId: 'Intel/dpt-large', revision: 'bc15f29' },
  'video-classification': { repoId: 'MCG-NJU/videomae-base-finetuned-kinetics', revision: '488eb9a' },
  'mask-generation': { repoId: 'facebook/sam-vit-huge', revision: '87aecf0' },
  'image-to-image': { repoId: 'caidas/swin2SR-classical-sr-x2-64', revision: 'cee1c92' },
  // `translation_xx_to_yy` has a default only for these language pairs.
  translation_en_to_fr: { repoId: 'google-t5/t5-base', revision: 'a9723ea' },
  translation_en_to_de: { repoId: 'google-t5/t5-base', revision: 'a9723ea' },
  translation_en_to_ro: { repoId: 'google-t5/t5-base', revision: 'a9723ea' },
};

/** transformers' TASK_ALIASES. */
const TASK_ALIASES: Readonly<Record<string, string>> = {
  'sentiment-analysis': 'text-classification',
  ner: 'token-classification',
  vqa: 'visual-question-answering',
  'text-to-speech': 'text-to-audio',
};

/** The model Python transformers loads for `pipeline(task)`, when the task has a documented default. */
export function transformersPipelineDefault(task: string): PipelineDefault | undefined {
  const normalized = TASK_ALIASES[task] ?? task;
  return Object.hasOwn(TRANSFORMERS_PIPELINE_DEFAULTS, normalized) ? TRANSFORMERS_PIPELINE_DEFAULTS[normalized] : undefined;
}
