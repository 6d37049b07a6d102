"""The deeplearning.ai course's assignments expressed as tinygraph graphs."""
