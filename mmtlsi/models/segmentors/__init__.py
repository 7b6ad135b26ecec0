from .multi_task_encoder_decoder import (
                                         MultiTaskEncoderDecoder,
                                         decode_prediction,
                                         restore_original_frame,
)

__all__ = ['MultiTaskEncoderDecoder', 'decode_prediction',
           'restore_original_frame']
